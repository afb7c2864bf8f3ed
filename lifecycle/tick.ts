import type { TickContext } from '../core/context.ts';
import type { SnappyHooks } from '../core/hooks.ts';
import { systemClock, type BlobStore, type Clock, type KV, type Logger } from '../core/ports.ts';
import { recordTick, tickSummary } from '../domain/health.ts';
import { checkLayout } from '../domain/remote-version.ts';

/** How long a tick may take when the config does not say (`tick.budgetMs`): a cron handler's CPU is 30 s. */
export const DEFAULT_TICK_BUDGET_MS = 25_000;

/** What a host gives a tick: the stores, where it runs and its budget. */
export interface TickRun {
  blobs: BlobStore;
  kv: KV;
  log: Logger;
  runtime: 'node' | 'worker';
  budgetMs: number;
  clock?: Clock;
  /** Limits the tick to these staged revs (`skill:rev_id`). */
  only?: readonly string[];
}

/**
 * Fires the `onTick` chain once, under a deadline: the signal aborts when the budget is spent
 * (or when `outer` aborts). The Worker's cron, the Worker's ingest and `snappy run tick` all
 * tick through here. Returns what the taps put in `results`.
 *
 * Before the chain, the remote's layout is checked (a newer one refuses the tick, an older one
 * is migrated); after a full tick (not one limited to `only`), its outcome is recorded in
 * `snappy-health/tick.json`, failed or not, for `snappy doctor` and the alerts.
 */
export async function runTick(hooks: Pick<SnappyHooks, 'onTick'>, run: TickRun, outer?: AbortSignal): Promise<Record<string, unknown>> {
  const clock = run.clock ?? systemClock;
  const controller = new AbortController();
  const now = clock.now();
  const timer = setTimeout(() => controller.abort(new Error(`tick deadline of ${run.budgetMs} ms passed`)), run.budgetMs);
  const stop = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', stop, { once: true });
  const results: Record<string, unknown> = {};
  const tick: TickContext = {
    now,
    deadline: now + run.budgetMs,
    signal: controller.signal,
    clock,
    runtime: run.runtime,
    blobs: run.blobs,
    kv: run.kv,
    log: run.log,
    results,
    ...(run.only ? { only: run.only } : {}),
  };
  let failure: unknown;
  try {
    await checkLayout(run.blobs, { write: true, now });
    await hooks.onTick.promise(tick);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', stop);
    if (!run.only) {
      const rec = { ts: new Date(now).toISOString(), ok: failure === undefined, ms: clock.now() - now, runtime: run.runtime, ...tickSummary(results), ...(failure === undefined ? {} : { error: String((failure as Error)?.message ?? failure).slice(0, 500) }) };
      await recordTick(run.blobs, rec).catch((err: Error) => run.log.warn(`recording the tick in ${run.blobs.url} failed: ${err.message}`));
    }
  }
  return results;
}
