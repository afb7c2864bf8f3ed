import type { BlobStore } from '../core/ports.ts';
import type { AggRow } from './agg-row.ts';
import { nullIfMalformed, readJson, updateJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { parseSkillRef } from './names.ts';

/**
 * A tenant's daily summaries of one UTC month (`Remote.tenantDaily`): written where the rows are
 * in hand, by the Worker's ingest (one update per push) or by the quorum tick in direct mode (one
 * update per tenant and group of batches); read by the quorum plugin (plugins/quorum/daily.ts).
 * A month, not the tenant's whole history, so that what each push rewrites stays small (at most
 * 31 days of the skills the tenant ran that month) however long the tenant has been in the fleet.
 * Exactly once per batch: each object remembers the batches applied to it, so a retried ingest
 * or a batch read again after a killed tick adds nothing, and the update is a compare-and-swap,
 * so two ingests of one tenant at once both count.
 *
 * `series`: `<skill>` (plain rows) or `<skill>:<rev>` (a rev's runs) -> day -> [count, sum, sum of squares].
 */
export interface TenantMonth {
  v: 1;
  tenant: string;
  /** YYYY-MM */
  month: string;
  series: Record<string, Record<string, [number, number, number]>>;
  /** Batch ids applied to this month, oldest first (the newest `MAX_BATCHES`). */
  batches: string[];
}

/**
 * A month's rev series at most: the ingest cannot tell staged revs from others, so a tenant naming
 * thousands of revs would otherwise grow the object it rewrites on every push. Rev series feed
 * only the ops page's charts; the decisions read tallies and plain series.
 */
const MAX_REV_SERIES = 500;
/** Ample for a retried push (minutes) and a tick's group redone after a kill (at most 200 batches of all tenants). */
const MAX_BATCHES = 1000;

function isTenantMonth(v: unknown): boolean {
  const m = v as TenantMonth;
  return !!m && m.v === 1 && typeof m.series === 'object' && m.series !== null && Array.isArray(m.batches);
}

/** The series key of a row: `<skill>` for plain rows, `<skill>:<rev>` for a rev's runs; null for a row naming no skill. */
function seriesOf(skillField: string): string | null {
  const ref = parseSkillRef(skillField);
  if (!ref) return null;
  return ref.rev ? `${ref.skill}:${ref.rev}` : ref.skill;
}

/**
 * Adds batches' rows by `tenant` to its monthly summaries: one compare-and-swap per month the rows
 * fall in (nearly always one). A batch already applied to a month adds nothing there.
 */
export async function applyToTenantDaily(blobs: BlobStore, tenant: string, batches: readonly { batch: string; rows: readonly AggRow[] }[]): Promise<void> {
  /** month -> batch -> rows */
  const months = new Map<string, Map<string, AggRow[]>>();
  for (const { batch, rows } of batches) {
    for (const r of rows) {
      const month = r.ts.slice(0, 7);
      const byBatch = months.get(month) ?? new Map<string, AggRow[]>();
      months.set(month, byBatch);
      const list = byBatch.get(batch);
      if (list) list.push(r);
      else byBatch.set(batch, [r]);
    }
  }
  await Promise.all(
    [...months].map(([month, byBatch]) =>
      updateJson<TenantMonth>(
        blobs,
        Remote.tenantDaily(tenant, month),
        () => ({ v: 1, tenant, month, series: {}, batches: [] }),
        (cur) => {
          let changed = false;
          let revSeries = Object.keys(cur.series).filter((k) => k.includes(':')).length;
          for (const [batch, rows] of byBatch) {
            if (cur.batches.includes(batch)) continue;
            for (const r of rows) {
              const key = seriesOf(r.skill);
              if (key === null) continue;
              if (!cur.series[key] && key.includes(':')) {
                if (revSeries >= MAX_REV_SERIES) continue;
                revSeries++;
              }
              const days = (cur.series[key] ??= {});
              const d = (days[r.ts.slice(0, 10)] ??= [0, 0, 0]);
              d[0]++;
              d[1] += r.score;
              d[2] += r.score * r.score;
            }
            cur.batches.push(batch);
            changed = true;
          }
          if (!changed) return null;
          if (cur.batches.length > MAX_BATCHES) cur.batches.splice(0, cur.batches.length - MAX_BATCHES);
          return cur;
        },
        { check: isTenantMonth },
      ),
    ),
  );
}

/** A tenant's month, or null when it has none (or it is malformed: reported by nobody, counted as none). */
export async function readTenantMonth(blobs: BlobStore, tenant: string, month: string): Promise<TenantMonth | null> {
  return readJson<TenantMonth>(blobs, Remote.tenantDaily(tenant, month), isTenantMonth).catch(nullIfMalformed);
}
