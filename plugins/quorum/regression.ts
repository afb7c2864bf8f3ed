import type { BlobStore } from '../../core/ports.ts';
import type { SkillLog } from '../../domain/changelog.ts';
import { readDaily } from './daily.ts';
import type { GateOptions } from './options.ts';
import type { Standing } from './rule.ts';
import type { Tally } from './tally.ts';
import { count } from './words.ts';

/**
 * The regression gate (opt-in, README "Expiry and the regression gate"): a rev the quorum would
 * promote is compared with the canonical page it would replace, on the tenants that scored both
 * in the same period: since the later of the rev's first sighting by the quorum and the
 * canonical's last change (its promotion, or the rollback that restored it), by UTC day. The
 * rev's side is its tally (each compared tenant's deduplicated runs of it); the canonical's is
 * the daily summaries of plain `<skill>` rows kept per tenant (daily.ts), which are the
 * runs of the page each tenant has, the canonical one once it pulled it. Means are pooled over
 * runs. A rev that fails waits (it is not rejected): more runs may change the comparison, and
 * the rev's expiry bounds the wait.
 */
export interface RegressionCheck {
  margin: number;
  minTenants: number;
  /** The canonical rev compared with; null when the skill has no canonical page (nothing to regress from). */
  canonicalRev: string | null;
  /** First UTC day of the period compared (YYYY-MM-DD); null without a canonical. */
  from: string | null;
  /** Tenants that scored both sides in the period (the only ones compared). */
  tenants: number;
  revRuns: number;
  canonicalRuns: number;
  revMean: number | null;
  canonicalMean: number | null;
  /** revMean − canonicalMean (null until a tenant scored both). */
  delta: number | null;
  /** True when the gate lets the rev through. */
  passes: boolean;
  /** `rev 0.870 vs canonical 0.950 on 3 tenants (9 runs vs 12); 0.080 worse, margin 0.05: waits`. */
  words: string;
}

// Means are sums of decimals: a rev exactly at the margin passes.
const EPSILON = 1e-9;
const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * Compares a rev (its counted tally; tenants whose standing is not `ok` do not count) with the
 * skill's canonical as `log` has it. `since`: when the quorum first saw the rev (null: unknown,
 * the period then starts at the canonical's last change).
 */
export async function compareWithCanonical(blobs: BlobStore, tally: Tally, standing: ReadonlyMap<string, Standing> | undefined, log: SkillLog | null, since: number | null, gate: GateOptions): Promise<RegressionCheck> {
  const base = { margin: gate.margin, minTenants: gate.minTenants };
  const canonical = log?.canonical ?? null;
  if (!canonical) return { ...base, canonicalRev: null, from: null, tenants: 0, revRuns: 0, canonicalRuns: 0, revMean: null, canonicalMean: null, delta: null, passes: true, words: 'no canonical page to compare with: nothing to regress from' };
  const changed = log?.lastChange ? Date.parse(log.lastChange.ts) : NaN;
  const start = Math.max(Number.isFinite(changed) ? changed : 0, since ?? 0);
  const from = new Date(start).toISOString().slice(0, 10);
  let tenants = 0;
  let revRuns = 0;
  let revSum = 0;
  let canonicalRuns = 0;
  let canonicalSum = 0;
  for (const [tenant, runs] of Object.entries(tally.tenants).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const scores = Object.values(runs);
    if (!scores.length || (standing?.get(tenant) ?? 'ok') !== 'ok') continue;
    const daily = await readDaily(blobs, tally.skill, tenant, undefined, { from });
    let n = 0;
    let sum = 0;
    for (const [day, [c, s]] of Object.entries(daily?.days ?? {})) {
      if (day < from) continue;
      n += c;
      sum += s;
    }
    // A tenant that scored only one side says nothing about the difference.
    if (!n) continue;
    tenants++;
    revRuns += scores.length;
    revSum += scores.reduce((a, b) => a + b, 0);
    canonicalRuns += n;
    canonicalSum += sum;
  }
  const revMean = revRuns ? round(revSum / revRuns) : null;
  const canonicalMean = canonicalRuns ? round(canonicalSum / canonicalRuns) : null;
  const delta = revMean !== null && canonicalMean !== null ? round(revMean - canonicalMean) : null;
  const enough = tenants >= gate.minTenants;
  const passes = enough && delta !== null && delta >= -gate.margin - EPSILON;
  const vs = delta === null ? '' : `rev ${revMean!.toFixed(3)} vs canonical ${canonicalMean!.toFixed(3)} on ${count(tenants, 'tenant')} (${revRuns} vs ${canonicalRuns} runs)`;
  const words = !tenants
    ? `no tenant has scored both it and canonical ${canonical.rev_id} since ${from}: waits`
    : !enough
      ? `${vs}; ${gate.minTenants} tenants needed for a comparison: waits`
      : passes
        ? `${vs}: within the margin of ${gate.margin}`
        : `${vs}; ${(-delta!).toFixed(3)} worse, more than the margin of ${gate.margin}: waits`;
  return { ...base, canonicalRev: canonical.rev_id, from, tenants, revRuns, canonicalRuns, revMean, canonicalMean, delta, passes, words };
}
