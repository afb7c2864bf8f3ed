import type { BlobStore } from '../../core/ports.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { readJson, updateJson } from '../../domain/json-store.ts';

/**
 * Per (skill, tenant), a day-by-day summary of the tenant's plain `<skill>` rows (and per
 * (skill, rev, tenant), of its runs of a staged rev: `rev` set): count, sum and
 * sum of squares of scores, by UTC day of the row's `ts`. Bounded: the newest `MAX_DAYS` days
 * are kept. A later comparison of a page before and after its promotion reads these, never the
 * rows. Exactly once per batch: the batches applied are remembered (the newest `MAX_BATCHES`),
 * so a batch read again after a killed tick adds nothing.
 */
export interface DailySummary {
  v: 1;
  skill: string;
  /** Set on the summary of a staged rev's runs. */
  rev?: string;
  tenant: string;
  /** YYYY-MM-DD -> [count, sum, sum of squares] */
  days: Record<string, [number, number, number]>;
  batches: string[];
}

export const MAX_DAYS = 400;
const MAX_BATCHES = 2000;

function isDaily(v: unknown): boolean {
  const d = v as DailySummary;
  return !!d && d.v === 1 && typeof d.days === 'object' && d.days !== null && Array.isArray(d.batches);
}

/**
 * Adds batches' plain rows of `skill` by `tenant` to its summary (with `rev`: their runs of that
 * staged rev to the rev's summary), in one update; a batch already in it adds nothing.
 */
export async function applyToDaily(blobs: BlobStore, skill: string, tenant: string, batches: readonly { batch: string; rows: readonly AggRow[] }[], rev?: string): Promise<void> {
  await updateJson<DailySummary>(
    blobs,
    rev === undefined ? Remote.daily(skill, tenant) : Remote.revDaily(skill, rev, tenant),
    () => ({ v: 1, skill, ...(rev === undefined ? {} : { rev }), tenant, days: {}, batches: [] }),
    (cur) => {
      let changed = false;
      for (const { batch, rows } of batches) {
        if (cur.batches.includes(batch)) continue;
        for (const r of rows) {
          const day = r.ts.slice(0, 10);
          const d = (cur.days[day] ??= [0, 0, 0]);
          d[0]++;
          d[1] += r.score;
          d[2] += r.score * r.score;
        }
        cur.batches.push(batch);
        changed = true;
      }
      if (!changed) return null;
      const days = Object.keys(cur.days).sort();
      for (const old of days.slice(0, Math.max(0, days.length - MAX_DAYS))) delete cur.days[old];
      if (cur.batches.length > MAX_BATCHES) cur.batches.splice(0, cur.batches.length - MAX_BATCHES);
      return cur;
    },
    { check: isDaily },
  );
}

/** A tenant's daily summary of `skill` (with `rev`: of that staged rev), or null before its first row. */
export async function readDaily(blobs: BlobStore, skill: string, tenant: string, rev?: string): Promise<DailySummary | null> {
  return readJson<DailySummary>(blobs, rev === undefined ? Remote.daily(skill, tenant) : Remote.revDaily(skill, rev, tenant), isDaily);
}
