import type { BlobStore, KV } from '../../core/ports.ts';
import { readEntry, readLog, type ChangelogEntry } from '../../domain/changelog.ts';
import { listSeen } from '../../domain/health.ts';
import { nullIfMalformed } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName, isTenantId } from '../../domain/names.ts';
import { listTenants } from '../../domain/registry.ts';
import { changelogIndex } from './changelog.ts';
import { readTenantMonth } from '../../domain/tenant-daily.ts';
import { MAX_DAYS, readLegacyDaily, type DailySummary } from './daily.ts';
import { thresholdsFor, type QuorumOptions } from './options.ts';
import type { Thresholds } from './rule.ts';
import { revStatuses, type RevStatus } from './revs.ts';
import { watchReport } from './watch-status.ts';

/** One entry of a skill's history as the ops page lists it: the changelog entry without its raw evidence. */
export interface HistoryItem extends Omit<ChangelogEntry, 'evidence'> {
  /** promote: the tenants whose runs endorsed the rev (from its tally, while the rev is staged). */
  endorsers?: string[];
  /** rollback: the tenants whose runs objected (from the entry's evidence). */
  objectors?: string[];
}

/** One day of a series: the fleet's mean score that day over every tenant's runs. */
export interface DayPoint {
  day: string;
  mean: number;
  runs: number;
  tenants: number;
}

/** Scores over time of the canonical page (plain rows) or of one staged rev (its runs). */
export interface ScoreSeries {
  /** Null: the canonical page's series. */
  rev: string | null;
  points: DayPoint[];
}

/** A staged rev's quorum progress, with what the expiry and the regression gate add when they report it. */
export interface RevProgress {
  rev: string;
  state: RevStatus['state'];
  endorsing: number;
  endorsingRuns: number;
  totalRuns: number;
  mean: number | null;
  thresholds: RevStatus['thresholds'];
  /** When the rev expires (or expired), if its skill's revs expire. */
  expiresAt?: string;
  expired?: boolean;
  /** When it expired (its expire entry). */
  expiredAt?: string;
  /** The regression gate's comparison with the canonical on the tenants that scored both. */
  gate?: { revMean: number | null; canonicalMean: number | null; tenants: number; runs: number; canonicalRuns?: number; margin: number; pass?: boolean };
}

/** An open watch's progress toward a rollback. */
export interface WatchProgress {
  rev: string;
  promotedAt: string;
  pinned: boolean;
  objecting: number;
  objectingRuns: number;
  adopted: number;
  runs: number;
  thresholds: { minTenants: number; minRuns: number; watchMinRuns: number };
}

/** One tenant's part in a skill, in counts only (operator-only: the page never shows a tenant's scores). */
export interface TenantPart {
  tenant: string;
  /** In the registry: admitted by an operator (a direct-mode fleet may have no registry). */
  registered: boolean;
  admitted: boolean;
  /** When the Worker stored the tenant's last aggregate batch (null in direct mode or before any). */
  lastBatch: string | null;
  /** The newest day with a row of the skill (plain or of a staged rev). */
  lastDay: string | null;
  /** Rows of the skill: plain rows plus runs of its staged revs. */
  rows: number;
}

/** Everything the ops page draws for one skill. */
export interface SkillView {
  skill: string;
  canonical: string | null;
  /** The skill's quorum thresholds (the chart draws `minScore`). */
  thresholds: Thresholds;
  history: HistoryItem[];
  series: ScoreSeries[];
  revs: RevProgress[];
  watch: WatchProgress | null;
  tenants: TenantPart[];
}

/** The newest entries a skill's history shows. */
export const HISTORY_SHOWN = 50;
/** Staged revs drawn per skill besides the canonical page. */
export const MAX_REV_SERIES = 8;

const round = (x: number): number => Math.round(x * 1000) / 1000;
const soft = <T,>(p: Promise<T | null>): Promise<T | null> => p.catch(nullIfMalformed);

/** Day-by-day fleet means from per-tenant daily summaries: the sums pooled, never a mean of means. */
export function seriesOf(rev: string | null, dailies: readonly DailySummary[]): ScoreSeries {
  const days = new Map<string, { n: number; sum: number; tenants: number }>();
  for (const d of dailies) {
    for (const [day, [n, sum]] of Object.entries(d.days)) {
      const acc = days.get(day) ?? { n: 0, sum: 0, tenants: 0 };
      acc.n += n;
      acc.sum += sum;
      acc.tenants++;
      days.set(day, acc);
    }
  }
  const points = [...days.entries()].filter(([, a]) => a.n > 0).sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, a]) => ({ day, mean: round(a.sum / a.n), runs: a.n, tenants: a.tenants }));
  return { rev, points };
}

/** The tenants with a daily summary under `prefix` in the layout of an earlier release (one listing). */
async function summaryTenants(blobs: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list(prefix)) {
    const m = /^([0-9a-f]{12})\.json$/.exec(o.key.slice(prefix.length));
    if (m && isTenantId(m[1])) out.push(m[1]!);
  }
  return out;
}

/** `<skill>` or `<skill>:<rev>` -> tenant -> day -> [count, sum, sum of squares]. */
type FleetDays = Map<string, Map<string, Record<string, [number, number, number]>>>;

/** Months of a tenant the page reads: the newest, as many as `MAX_DAYS` days can span. */
const MONTHS_SHOWN = Math.ceil(MAX_DAYS / 28) + 1;

/**
 * Every tenant's newest monthly summaries, read once for the whole page (one listing, one read per
 * tenant and month, at most `MONTHS_SHOWN` each): the page draws every skill from them.
 */
async function fleetDays(blobs: BlobStore): Promise<FleetDays> {
  const byTenant = new Map<string, string[]>();
  for await (const o of blobs.list(Remote.tenantDailyPrefix)) {
    const m = /^([0-9a-f]{12})\/(\d{4}-\d{2})\.json$/.exec(o.key.slice(Remote.tenantDailyPrefix.length));
    if (m) byTenant.set(m[1]!, [...(byTenant.get(m[1]!) ?? []), m[2]!]);
  }
  const keys = [...byTenant].flatMap(([tenant, months]) => months.sort().slice(-MONTHS_SHOWN).map((month) => ({ tenant, month })));
  const out: FleetDays = new Map();
  const months = await Promise.all(keys.map((k) => readTenantMonth(blobs, k.tenant, k.month)));
  for (const [i, m] of months.entries()) {
    if (!m) continue;
    for (const [key, days] of Object.entries(m.series)) {
      const byTenant = out.get(key) ?? new Map<string, Record<string, [number, number, number]>>();
      out.set(key, byTenant);
      const acc = byTenant.get(keys[i]!.tenant) ?? {};
      byTenant.set(keys[i]!.tenant, acc);
      for (const [day, [n, sum, sq]] of Object.entries(days)) {
        const d = (acc[day] ??= [0, 0, 0]);
        d[0] += n;
        d[1] += sum;
        d[2] += sq;
      }
    }
  }
  return out;
}

/** Per tenant, its summary of `skill` (or of `rev`'s runs): the monthly ones added to an earlier release's. */
async function dailiesOf(blobs: BlobStore, fleet: FleetDays, skill: string, rev: string | null): Promise<DailySummary[]> {
  const prefix = rev === null ? `${Remote.dailyPrefix}${skill}/` : `${Remote.revDailyPrefix}${skill}/${rev}/`;
  const legacy = (await Promise.all((await summaryTenants(blobs, prefix)).map((t) => soft(readLegacyDaily(blobs, skill, t, rev ?? undefined))))).filter((d): d is DailySummary => d !== null);
  const byTenant = new Map<string, DailySummary>(legacy.map((d) => [d.tenant, { ...d, days: { ...d.days } }]));
  for (const [tenant, days] of fleet.get(rev === null ? skill : `${skill}:${rev}`) ?? []) {
    const d = byTenant.get(tenant) ?? { v: 1 as const, skill, ...(rev === null ? {} : { rev }), tenant, days: {}, batches: [] };
    byTenant.set(tenant, d);
    for (const [day, [n, sum, sq]] of Object.entries(days)) {
      const cur = d.days[day] ?? [0, 0, 0];
      d.days[day] = [cur[0] + n, cur[1] + sum, cur[2] + sq];
    }
  }
  return [...byTenant.values()];
}

/**
 * The fleet per skill, for the operator's page: the canonical's history, scores per day of the
 * canonical and of each staged rev, quorum and watch progress, and each tenant's part in counts.
 * Operator-only: it names tenants (a tenant's /v1/status never carries it).
 */
export async function skillViews(blobs: BlobStore, kv: KV, opts: QuorumOptions): Promise<SkillView[]> {
  const [idx, revs, watch, tenants, seen] = await Promise.all([changelogIndex(blobs), revStatuses(blobs, opts), watchReport(blobs, kv, opts), listTenants(blobs), listSeen(blobs)]);
  const fleet = await fleetDays(blobs);
  const skills = new Set<string>([...idx.skills.keys()]);
  for (const r of revs) skills.add(r.skill);
  for (const key of fleet.keys()) if (!key.includes(':') && isSkillName(key)) skills.add(key);
  for await (const o of blobs.list(Remote.dailyPrefix)) {
    const s = o.key.slice(Remote.dailyPrefix.length).split('/')[0];
    if (isSkillName(s)) skills.add(s);
  }
  const out: SkillView[] = [];
  for (const skill of [...skills].sort()) {
    const mine = revs.filter((r) => r.skill === skill);
    const log = idx.skills.has(skill) ? await soft(readLog(blobs, skill)) : null;
    const history: HistoryItem[] = [];
    if (log) {
      for (let seq = Math.max(1, log.seq - HISTORY_SHOWN + 1); seq <= log.seq; seq++) {
        const e = await soft(readEntry(blobs, log, seq));
        if (e) history.push(historyItem(e, mine));
      }
    }
    const plain = await dailiesOf(blobs, fleet, skill, null);
    const series: ScoreSeries[] = [seriesOf(null, plain)];
    // Per tenant: its plain rows (by day) and its runs of each staged rev (from the rev's tally), and its newest day with either.
    const rows = new Map<string, { rows: number; lastDay: string | null }>();
    const add = (tenant: string, n: number, day: string | null) => {
      const acc = rows.get(tenant) ?? { rows: 0, lastDay: null };
      acc.rows += n;
      if (day && (!acc.lastDay || day > acc.lastDay)) acc.lastDay = day;
      rows.set(tenant, acc);
    };
    const lastDayOf = (d: DailySummary) => Object.keys(d.days).sort().pop() ?? null;
    for (const d of plain) add(d.tenant, Object.values(d.days).reduce((n, [c]) => n + c, 0), lastDayOf(d));
    for (const r of mine) for (const t of r.tenants) add(t.tenant, t.runs, null);
    for (const r of charted(mine)) {
      const dailies = await dailiesOf(blobs, fleet, skill, r.rev);
      series.push(seriesOf(r.rev, dailies));
      for (const d of dailies) add(d.tenant, 0, lastDayOf(d));
    }
    const w = watch.watches.find((x) => x.skill === skill) ?? null;
    out.push({
      skill,
      canonical: log?.canonical?.rev_id ?? null,
      thresholds: thresholdsFor(opts, skill),
      history,
      series,
      revs: mine.map(revProgress),
      watch: w && { rev: w.rev, promotedAt: w.promotedAt, pinned: w.pinned, objecting: w.objecting, objectingRuns: w.objectingRuns, adopted: w.adopted, runs: w.runs, thresholds: { minTenants: w.thresholds.minTenants, minRuns: w.thresholds.minRuns, watchMinRuns: w.thresholds.watchMinRuns } },
      tenants: [...tenants.map((t) => ({ tenant: t.tenant, registered: true, admitted: t.admitted })), ...[...rows.keys()].filter((id) => !tenants.some((t) => t.tenant === id)).sort().map((tenant) => ({ tenant, registered: false, admitted: false }))].map((t) => ({
        ...t,
        lastBatch: seen.get(t.tenant)?.lastIngest ?? null,
        lastDay: rows.get(t.tenant)?.lastDay ?? null,
        rows: rows.get(t.tenant)?.rows ?? 0,
      })),
    });
  }
  return out;
}

/**
 * The revs drawn as series: the canonical one and those still in play (pending, gated, rolled
 * back), at most `MAX_REV_SERIES`. A rev promoted and replaced since is left out: its runs after
 * its promotion are the canonical's plain rows, and a page with dozens of lines helps nobody.
 */
function charted(revs: readonly RevStatus[]): RevStatus[] {
  return revs.filter((r) => isRevId(r.rev) && (r.canonical || r.state === 'pending' || r.state === 'gated' || r.state === 'rolled-back')).slice(-MAX_REV_SERIES);
}

function historyItem(e: ChangelogEntry, revs: readonly RevStatus[]): HistoryItem {
  const { evidence, ...rest } = e;
  const item: HistoryItem = rest;
  if (e.action === 'promote') {
    const r = revs.find((x) => x.rev === e.rev_id);
    if (r) item.endorsers = r.tenants.filter((t) => t.endorses).map((t) => t.tenant);
  }
  const objecting = (evidence as { objecting?: { tenant?: unknown }[] } | undefined)?.objecting;
  if (e.action === 'rollback' && Array.isArray(objecting)) item.objectors = objecting.map((o) => String(o.tenant));
  return item;
}

/** What the expiry and the regression gate report on a rev status, when the quorum runs them. */
interface ExpiryAndGate {
  expiry?: { expiresAt: string | null; expired: { ts: string } | null } | null;
  regression?: { revMean: number | null; canonicalMean: number | null; tenants: number; revRuns: number; canonicalRuns: number; margin: number; passes: boolean } | null;
}

/** A rev status as the page draws it: the tallies, and its expiry and gate comparison when reported. */
export function revProgress(r: RevStatus): RevProgress {
  const { expiry, regression } = r as RevStatus & ExpiryAndGate;
  const out: RevProgress = {
    rev: r.rev,
    state: r.state,
    endorsing: r.endorsing,
    endorsingRuns: r.endorsingRuns,
    totalRuns: r.totalRuns,
    mean: r.mean === null ? null : round(r.mean),
    thresholds: r.thresholds,
  };
  if (expiry?.expiresAt) out.expiresAt = expiry.expiresAt;
  if (expiry?.expired) Object.assign(out, { expired: true, expiredAt: expiry.expired.ts });
  if (regression) {
    const m = (x: number | null) => (x === null ? null : round(x));
    out.gate = { revMean: m(regression.revMean), canonicalMean: m(regression.canonicalMean), tenants: regression.tenants, runs: regression.revRuns, canonicalRuns: regression.canonicalRuns, margin: regression.margin, pass: regression.passes };
  }
  return out;
}
