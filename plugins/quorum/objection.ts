import type { Standing } from '../../domain/registry.ts';
import type { DailySummary } from './daily.ts';
import type { WatchOptions } from './options.ts';
import type { Thresholds } from './rule.ts';
import { runsWords, tenantsWords } from './words.ts';
import type { Watch } from './watch.ts';

/** A tenant's own record before the promotion: its plain runs of the skill over the baseline days. */
export interface Baseline {
  runs: number;
  mean: number;
  /** First and last UTC day counted. */
  from: string;
  to: string;
}

/** Where one tenant stands in the watch of a promotion. */
export interface TenantVerdict {
  tenant: string;
  state: 'objects' | 'holds' | 'watching' | 'not adopted' | 'revoked' | 'not admitted';
  /** Runs counted since the tenant's cutoff. */
  runs: number;
  mean: number | null;
  baseline: Baseline | null;
  adopted: string | null;
  reason: string;
}

/** What the watch of one promotion says now. */
export interface WatchVerdict {
  skill: string;
  rev: string;
  seq: number;
  promotedAt: string;
  /** Tenants that adopted the page (and count). */
  adopted: number;
  objecting: number;
  /** Runs of the objecting tenants. */
  objectingRuns: number;
  objectingMean: number | null;
  /** Runs counted, over every tenant that counts. */
  runs: number;
  /** As many tenants object as the quorum needs, with enough runs among them. */
  rollback: boolean;
  reason: string;
  thresholds: { minTenants: number; minRuns: number; watchMinRuns: number; margin: number; floor: number };
  tenants: TenantVerdict[];
}

const DAY = 86_400_000;
// Means are sums of decimals: a mean exactly at the floor or at baseline - margin does not object.
const EPSILON = 1e-9;

/** The baseline from a tenant's daily summaries: the `days` UTC days before the promotion's day. */
export function baselineOf(daily: DailySummary | null, promotedAt: number, days: number): Baseline | null {
  if (!daily) return null;
  const end = new Date(promotedAt).toISOString().slice(0, 10);
  const start = new Date(Date.parse(`${end}T00:00:00.000Z`) - days * DAY).toISOString().slice(0, 10);
  let n = 0;
  let sum = 0;
  let from = '';
  let to = '';
  for (const [day, [count, s]] of Object.entries(daily.days).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // The promotion's own day is left out: its rows mix the old page and the new.
    if (day < start || day >= end) continue;
    n += count;
    sum += s;
    from ||= day;
    to = day;
  }
  return n ? { runs: n, mean: round(sum / n), from, to } : null;
}

/**
 * The objection rule (README "Watch and rollback"). A tenant that adopted the page
 * objects when, over at least `minRuns` runs since its cutoff, its mean is below its own
 * baseline by more than `margin` (a baseline of at least `minRuns` runs), or below `floor`.
 * Revoked tenants never count, nor (with `admittedOnly`) tenants never admitted. The page is
 * rolled back when at least `minTenants` tenants object with at least `minRuns` runs among them
 * (the quorum's own thresholds).
 */
export function judge(w: Watch, baselines: ReadonlyMap<string, Baseline | null>, standing: ReadonlyMap<string, Standing>, wo: WatchOptions, t: Thresholds, admittedOnly: boolean): WatchVerdict {
  const tenants: TenantVerdict[] = [];
  let adopted = 0;
  let objecting = 0;
  let objectingRuns = 0;
  let objectingSum = 0;
  let runs = 0;
  for (const [tenant, wt] of Object.entries(w.tenants).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const mean = wt.n ? wt.sum / wt.n : null;
    const baseline = baselines.get(tenant) ?? null;
    const base = { tenant, runs: wt.n, mean: mean === null ? null : round(mean), baseline, adopted: wt.adopted === undefined ? null : new Date(wt.adopted).toISOString() };
    const st = standing.get(tenant) ?? 'ok';
    if (st === 'revoked' || (admittedOnly && st === 'not admitted')) {
      tenants.push({ ...base, state: st, reason: `${st}: never counts` });
      continue;
    }
    if (wt.adopted === undefined) {
      tenants.push({ ...base, state: 'not adopted', reason: 'has not pushed the promoted page: its runs are not the page\'s' });
      continue;
    }
    adopted++;
    runs += wt.n;
    if (wt.n < wo.minRuns || mean === null) {
      tenants.push({ ...base, state: 'watching', reason: `${wt.n}/${wo.minRuns} runs since adopting it` });
      continue;
    }
    let reason = '';
    if (mean < wo.floor - EPSILON) reason = `mean ${round(mean)} over ${wt.n} runs is below the floor ${wo.floor}`;
    else if (baseline && baseline.runs >= wo.minRuns && mean < baseline.mean - wo.margin - EPSILON) reason = `mean ${round(mean)} over ${wt.n} runs is below its baseline ${baseline.mean} (${baseline.runs} runs) by more than ${wo.margin}`;
    if (reason) {
      objecting++;
      objectingRuns += wt.n;
      objectingSum += wt.sum;
      tenants.push({ ...base, state: 'objects', reason });
    } else {
      tenants.push({ ...base, state: 'holds', reason: baseline && baseline.runs >= wo.minRuns ? `mean ${round(mean)} against its baseline ${baseline.mean}` : `mean ${round(mean)}; no baseline of ${wo.minRuns} runs, so only the floor ${wo.floor} applies` });
    }
  }
  const rollback = objecting >= t.minTenants && objectingRuns >= t.minRuns;
  const reason = rollback
    ? `${objecting} tenants object with ${objectingRuns} runs (mean ${round(objectingSum / objectingRuns)})`
    : objecting < t.minTenants
      ? `${tenantsWords(objecting, t.minTenants, 'object')} (${adopted} adopted the page)`
      : `objecting tenants have ${runsWords(objectingRuns, t.minRuns)}`;
  return {
    skill: w.skill,
    rev: w.rev,
    seq: w.seq,
    promotedAt: new Date(w.promotedAt).toISOString(),
    adopted,
    objecting,
    objectingRuns,
    objectingMean: objectingRuns ? round(objectingSum / objectingRuns) : null,
    runs,
    rollback,
    reason,
    thresholds: { minTenants: t.minTenants, minRuns: t.minRuns, watchMinRuns: wo.minRuns, margin: wo.margin, floor: wo.floor },
    tenants,
  };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
