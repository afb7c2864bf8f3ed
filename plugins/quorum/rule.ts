import type { Tally } from './tally.ts';
import { runsWords, tenantsWords } from './words.ts';

/** The quorum thresholds for one skill. */
export interface Thresholds {
  minTenants: number;
  minRuns: number;
  minScore: number;
}

/** One tenant's deduplicated runs of a rev. */
export interface TenantProgress {
  tenant: string;
  runs: number;
  mean: number;
  /** Mean score >= minScore. */
  endorses: boolean;
  /** Why this tenant's runs do not count (kept for audit): revoked, or never admitted. */
  excluded?: 'revoked' | 'not admitted';
}

/** Whether a tenant's runs count in decisions, and if not, why. */
import type { Standing } from '../../domain/registry.ts';
import { QuorumErrorCode, quorumError } from './errors.ts';

export type { Standing };

/** Where a staged rev stands: what a rule decides on, and what status and /snappy-ops show. */
export interface Progress {
  skill: string;
  rev: string;
  tenants: TenantProgress[];
  /** Endorsing tenants. */
  endorsing: number;
  /** Runs of the endorsing tenants. */
  endorsingRuns: number;
  /** Mean score over the endorsing tenants' runs (null when none endorse). */
  endorsingMean: number | null;
  /** Runs of every tenant. */
  totalRuns: number;
  /** Mean score over all runs (null without runs). */
  mean: number | null;
}

/** What a rule decides; `tenants`, `runs`, `mean` go into the changelog row. */
export interface Decision {
  promote: boolean;
  reason: string;
  tenants: number;
  runs: number;
  mean: number | null;
}

/** A quorum rule: replaceable through the `quorum.rule` option. */
export type QuorumRule = (progress: Progress, thresholds: Thresholds) => Decision | Omit<Decision, 'tenants' | 'runs' | 'mean'>;

// Means are sums of decimals; 3 runs of 0.85 must endorse although 2.55 / 3 > 0.85 is not exact.
const EPSILON = 1e-9;

export function progressOf(tally: Tally, t: Thresholds, standing?: ReadonlyMap<string, Standing>): Progress {
  const tenants: TenantProgress[] = [];
  let endorsing = 0;
  let endorsingRuns = 0;
  let endorsingSum = 0;
  let totalRuns = 0;
  let totalSum = 0;
  for (const [tenant, runs] of Object.entries(tally.tenants).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const scores = Object.values(runs);
    if (scores.length === 0) continue;
    const sum = scores.reduce((a, b) => a + b, 0);
    const mean = sum / scores.length;
    const endorses = mean >= t.minScore - EPSILON;
    const st = standing?.get(tenant) ?? 'ok';
    if (st !== 'ok') {
      tenants.push({ tenant, runs: scores.length, mean: round(mean), endorses: false, excluded: st });
      continue;
    }
    tenants.push({ tenant, runs: scores.length, mean: round(mean), endorses });
    totalRuns += scores.length;
    totalSum += sum;
    if (endorses) {
      endorsing++;
      endorsingRuns += scores.length;
      endorsingSum += sum;
    }
  }
  return {
    skill: tally.skill,
    rev: tally.rev,
    tenants,
    endorsing,
    endorsingRuns,
    endorsingMean: endorsingRuns ? round(endorsingSum / endorsingRuns) : null,
    totalRuns,
    mean: totalRuns ? round(totalSum / totalRuns) : null,
  };
}

/** docs/contract.md §11: promote when >= minTenants tenants endorse and their runs total >= minRuns. */
export const defaultRule: QuorumRule = (p, t) => {
  const base = { tenants: p.endorsing, runs: p.endorsingRuns, mean: p.endorsingMean };
  if (p.endorsing < t.minTenants) return { ...base, promote: false, reason: `${tenantsWords(p.endorsing, t.minTenants)} (a mean score of at least ${t.minScore})` };
  if (p.endorsingRuns < t.minRuns) return { ...base, promote: false, reason: `the endorsing tenants have ${runsWords(p.endorsingRuns, t.minRuns)}` };
  return { ...base, promote: true, reason: `${p.endorsing} tenants endorse with ${p.endorsingRuns} runs (mean ${p.endorsingMean})` };
};

/** Runs a rule, filling the changelog numbers when the rule left them out. */
export function decide(rule: QuorumRule, p: Progress, t: Thresholds): Decision {
  const d = rule(p, t);
  if (!d || typeof d.promote !== 'boolean') throw quorumError(QuorumErrorCode.BadRule, `quorum rule (config quorum.rule) returned ${JSON.stringify(d)} for ${p.skill}:${p.rev}; expected { promote: boolean, reason: string }`);
  const full = d as Partial<Decision>;
  return { promote: d.promote, reason: String(d.reason ?? ''), tenants: full.tenants ?? p.endorsing, runs: full.runs ?? p.endorsingRuns, mean: full.mean === undefined ? p.endorsingMean : full.mean };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
