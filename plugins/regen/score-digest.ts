/** Scores of a set of runs, exactly: what the local brief (which never leaves the machine) shows. */
export interface ScoreSummary {
  runs: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  /** Share of runs with ok = true. */
  okRate: number | null;
}

/**
 * Scores of a set of runs as a shared brief may show them: no single run can be picked out.
 * Below `MIN_SHARED_RUNS` runs only the count is given; scores are rounded to 0.01 and times
 * to the day.
 */
export interface SharedSummary {
  runs: number;
  mean: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  okRate: number | null;
  /** First and last day (UTC, YYYY-MM-DD) of the runs. */
  from: string | null;
  to: string | null;
}

/** Fewest runs a shared summary describes; fewer, and it gives only their count. */
export const MIN_SHARED_RUNS = 5;

/** Score resolution of the histogram quantiles: finer than the 0.01 they are rounded to. */
const BINS = 1000;

const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Accumulates runs one by one in constant memory (the fleet aggregate can hold millions of
 * rows): counts, sums, extremes, a score histogram for quantiles, and the time range.
 */
export class ScoreDigest {
  private n = 0;
  private sum = 0;
  private ok = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private first: string | null = null;
  private last: string | null = null;
  private readonly bins = new Uint32Array(BINS + 1);

  /** One run; `ts` is an ISO time. */
  add(score: number, ok: boolean, ts: string): void {
    this.n++;
    this.sum += score;
    if (ok) this.ok++;
    if (score < this.lo) this.lo = score;
    if (score > this.hi) this.hi = score;
    this.bins[Math.min(BINS, Math.max(0, Math.round(score * BINS)))]!++;
    if (this.first === null || ts < this.first) this.first = ts;
    if (this.last === null || ts > this.last) this.last = ts;
  }

  get runs(): number {
    return this.n;
  }

  summary(): ScoreSummary {
    if (this.n === 0) return { runs: 0, mean: null, min: null, max: null, okRate: null };
    return { runs: this.n, mean: round4(this.sum / this.n), min: round4(this.lo), max: round4(this.hi), okRate: round4(this.ok / this.n) };
  }

  shared(): SharedSummary {
    if (this.n < MIN_SHARED_RUNS) return { runs: this.n, mean: null, p25: null, p50: null, p75: null, okRate: null, from: null, to: null };
    return {
      runs: this.n,
      mean: round2(this.sum / this.n),
      p25: round2(this.quantile(0.25)),
      p50: round2(this.quantile(0.5)),
      p75: round2(this.quantile(0.75)),
      okRate: round2(this.ok / this.n),
      from: dayOf(this.first),
      to: dayOf(this.last),
    };
  }

  /** Nearest-rank quantile from the histogram. */
  private quantile(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let b = 0; b <= BINS; b++) {
      seen += this.bins[b]!;
      if (seen >= rank) return b / BINS;
    }
    return this.hi;
  }
}

/** `YYYY-MM-DD` of an ISO time (UTC), or null. */
export function dayOf(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isFinite(d.getTime()) ? d.toISOString().slice(0, 10) : null;
}
