/**
 * The evaluations ingests start, one at a time per isolate: an ingest naming staged revs while
 * one runs only notes its revs, and the running one evaluates them all in one more round when it
 * is done. A burst of N pushes then costs a few evaluations, not N overlapping ones each reading
 * every new batch and contending on the scan state and the tallies. Rounds stop starting after
 * `budgetMs`, so a request's background work ends within what the runtime grants it (30 s after
 * the response on Cloudflare); revs still noted then wait for the next ingest or the cron tick
 * (the backstop).
 */
export class Evaluations {
  private noted = new Set<string>();
  /** When the running evaluation started (0: none runs). */
  private since = 0;

  constructor(
    private readonly budgetMs = 20_000,
    /** A request's background work that ran this long was cut off by the runtime, not finished: start anew. */
    private readonly staleMs = 120_000,
  ) {}

  /**
   * Notes `revs`; when no evaluation runs, starts one with `evaluate` and returns it (to keep the
   * request alive until it ends), else returns null (the running one takes them).
   */
  note(revs: readonly string[], evaluate: (only: string[]) => Promise<unknown>): Promise<void> | null {
    for (const r of revs) this.noted.add(r);
    if (this.since && Date.now() - this.since < this.staleMs) return null;
    const mine = (this.since = Date.now());
    return (async () => {
      try {
        for (let round = 0; this.noted.size && (round === 0 || Date.now() - mine < this.budgetMs); round++) {
          const only = [...this.noted].sort();
          this.noted = new Set();
          await evaluate(only).catch((err) => console.error(`ingest-triggered tick failed: ${(err as Error).message}`));
        }
      } finally {
        if (this.since === mine) this.since = 0;
      }
    })();
  }

  /** Revs noted and not yet evaluated. */
  get waiting(): number {
    return this.noted.size;
  }
}
