import type { BlobStore } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { nullIfMalformed, readJson } from '../../domain/json-store.ts';
import { readTenantMonth } from '../../domain/tenant-daily.ts';

/**
 * Daily summaries as the quorum reads them: per tenant, per skill (plain `<skill>` rows) and per
 * staged rev (`<skill>:<rev>` runs), and per UTC day of the row's `ts`, the count, sum and sum of
 * squares of scores. A later comparison of a page before and after its promotion, the regression
 * gate and the ops page read these, never the rows. Stored per tenant and month
 * (domain/tenant-daily.ts); months past `MAX_DAYS` are never read.
 *
 * Releases before kept one object per (skill, tenant) (`Remote.daily`, `Remote.revDaily`),
 * written by the tick; nothing writes them any more, and readers add them to the monthly ones:
 * the batches they counted were applied before the upgrade, the monthly ones count only batches
 * applied since.
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
const DAY = 86_400_000;

function isDaily(v: unknown): boolean {
  const d = v as DailySummary;
  return !!d && d.v === 1 && typeof d.days === 'object' && d.days !== null && Array.isArray(d.batches);
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
  return readJson<DailySummary>(blobs, rev === undefined ? Remote.daily(skill, tenant) : Remote.revDaily(skill, rev, tenant), isDaily).catch(nullIfMalformed);
}
