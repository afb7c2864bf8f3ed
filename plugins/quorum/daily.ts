import type { BlobStore } from '../../core/ports.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { isMalformed, readJson, updateJson } from '../../domain/json-store.ts';
import { parseSkillRef } from '../../domain/names.ts';

/**
 * Daily summaries: per tenant, per skill (plain `<skill>` rows) and per staged rev (`<skill>:<rev>`
 * runs), and per UTC day of the row's `ts`, the count, sum and sum of squares of scores. A later
 * comparison of a page before and after its promotion, the regression gate and the ops page read
 * these, never the rows.
 *
 * Stored as one object per tenant and UTC month (`Remote.tenantDaily`), written where the rows are
 * in hand: by the Worker's ingest (one update per push), or by the tick in direct mode (one update
 * per tenant and group of batches). A month, not the tenant's whole history, so that what each push
 * rewrites stays small (at most 31 days of the skills the tenant ran that month) however long the
 * tenant has been in the fleet; months past `MAX_DAYS` are never read. Exactly once per batch: each
 * object remembers the batches applied to it (the newest `MAX_BATCHES`), so a retried ingest or a
 * batch read again after a killed tick adds nothing, and the update is a compare-and-swap, so two
 * ingests of one tenant at once both count.
 *
 * Releases before this one kept one object per (skill, tenant) (`Remote.daily`, `Remote.revDaily`),
 * written by the tick; nothing writes them any more, and readers add them to the new ones: the
 * batches they counted were applied before the upgrade, the new objects count only batches applied
 * since.
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

/** One tenant's month: `<skill>` or `<skill>:<rev>` -> day -> [count, sum, sum of squares]. */
export interface TenantMonth {
  v: 1;
  tenant: string;
  /** YYYY-MM */
  month: string;
  series: Record<string, Record<string, [number, number, number]>>;
  /** Batch ids applied to this month, oldest first (the newest `MAX_BATCHES`). */
  batches: string[];
}

export const MAX_DAYS = 400;
/**
 * A month's rev series at most: the ingest cannot tell staged revs from others, so a tenant naming
 * thousands of revs would otherwise grow the object it rewrites on every push. Rev series feed
 * only the ops page's charts; the decisions read tallies and plain series.
 */
const MAX_REV_SERIES = 500;
/** Ample for a retried push (minutes) and a tick's group redone after a kill (at most 200 batches of all tenants). */
const MAX_BATCHES = 1000;
const DAY = 86_400_000;

function isDaily(v: unknown): boolean {
  const d = v as DailySummary;
  return !!d && d.v === 1 && typeof d.days === 'object' && d.days !== null && Array.isArray(d.batches);
}

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

/** The months (YYYY-MM) from the one of day `from` to the one of day `to`, both YYYY-MM-DD. */
function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.slice(0, 7).split('-').map(Number) as [number, number];
  const last = to.slice(0, 7);
  for (;;) {
    const month = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`;
    if (month > last) break;
    out.push(month);
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

/** A tenant's month, or null when it has none (or it is malformed: reported by nobody, counted as none). */
export async function readTenantMonth(blobs: BlobStore, tenant: string, month: string): Promise<TenantMonth | null> {
  return readJson<TenantMonth>(blobs, Remote.tenantDaily(tenant, month), isTenantMonth).catch((err) => (isMalformed(err) ? null : Promise.reject(err)));
}

/**
 * A tenant's daily summary of `skill` (with `rev`: of that staged rev's runs) over the UTC days
 * `from` to `to` (YYYY-MM-DD; default: the `MAX_DAYS` days before `to`, and up to the month after
 * today's, for rows a skewed clock dated ahead): its months in that span (one read each, no
 * listing) added to the summary an earlier release kept for the pair. Null when the tenant has
 * no row of it there.
 */
export async function readDaily(blobs: BlobStore, skill: string, tenant: string, rev?: string, span: { from?: string; to?: string } = {}): Promise<DailySummary | null> {
  const to = span.to ?? new Date(Date.now() + 31 * DAY).toISOString().slice(0, 10);
  const floor = new Date(Date.parse(`${span.to ?? new Date().toISOString().slice(0, 10)}T00:00:00.000Z`) - MAX_DAYS * DAY).toISOString().slice(0, 10);
  const from = span.from && span.from > floor ? span.from : floor;
  const key = rev === undefined ? skill : `${skill}:${rev}`;
  const [legacy, ...months] = await Promise.all([readLegacyDaily(blobs, skill, tenant, rev), ...monthsBetween(from, to).map((m) => readTenantMonth(blobs, tenant, m))]);
  const out: DailySummary = { v: 1, skill, ...(rev === undefined ? {} : { rev }), tenant, days: {}, batches: [] };
  let any = false;
  for (const src of [legacy?.days, ...months.map((m) => m?.series[key])]) {
    if (!src) continue;
    for (const [day, [n, sum, sq]] of Object.entries(src)) {
      if (day < from || day > to) continue;
      const d = (out.days[day] ??= [0, 0, 0]);
      d[0] += n;
      d[1] += sum;
      d[2] += sq;
      any = true;
    }
  }
  return any ? out : null;
}

/**
 * The tenants with a monthly summary of a month from `sinceMonth` (YYYY-MM) on: one listing of
 * keys, no reads (the tenants active since then, whatever skills they ran).
 */
export async function tenantsSummarizedSince(blobs: BlobStore, sinceMonth: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const o of blobs.list(Remote.tenantDailyPrefix)) {
    const m = /^([0-9a-f]{12})\/(\d{4}-\d{2})\.json$/.exec(o.key.slice(Remote.tenantDailyPrefix.length));
    if (m && m[2]! >= sinceMonth) out.add(m[1]!);
  }
  return out;
}

/** The (skill, tenant) summary of a release before the per-tenant months; read, never written. */
export async function readLegacyDaily(blobs: BlobStore, skill: string, tenant: string, rev?: string): Promise<DailySummary | null> {
  return readJson<DailySummary>(blobs, rev === undefined ? Remote.daily(skill, tenant) : Remote.revDaily(skill, rev, tenant), isDaily).catch((err) => (isMalformed(err) ? null : Promise.reject(err)));
}
