import { checkpoint } from '../../core/checkpoint.ts';
import type { TickContext } from '../../core/hooks.ts';
import { parseSkillRef } from '../../domain/names.ts';
import { Remote } from '../../domain/layout.ts';
import { readJson } from './json-store.ts';
import { type QuorumOptions, thresholdsFor } from './options.ts';
import { complete, promote, stagedFiles, type ChangelogRow } from './promote.ts';
import { listStagedRevs, manualReviewOf, promotionIndex, type RevRef } from './revs.ts';
import { decide, defaultRule, progressOf } from './rule.ts';
import { readTally } from './tally.ts';
import { scanNewBatches, type ScanResult } from './scan.ts';

/** What one quorum tick did (the tick's `results.quorum`). */
export interface QuorumTickReport {
  scan: ScanResult;
  /** Promotions this tick made (it stored their changelog rows). */
  promoted: ChangelogRow[];
  /** Promotions found unfinished (a killed tick) and finished now. */
  completed: string[];
  /** Revs that meet the rule but wait for an operator (`manual_review`). */
  gated: string[];
  /** Revs evaluated that do not meet the rule yet. */
  pending: number;
  /** True when the deadline stopped the tick early; the next tick continues. */
  partial: boolean;
}

/**
 * The quorum tick (SPEC §11): take in new aggregate batches, finish interrupted promotions,
 * then evaluate every staged rev not yet promoted or rejected (or only `tick.only`).
 */
export async function quorumTick(tick: TickContext, opts: QuorumOptions): Promise<QuorumTickReport> {
  const { blobs, kv } = tick;
  const idx = await promotionIndex(blobs);
  const closed = new Set([...idx.promoted, ...idx.rejected]);
  const scan = await scanNewBatches(blobs, { now: tick.now, deadline: tick.deadline - 2_000, discover: opts.discover, closed });
  const report: QuorumTickReport = { scan, promoted: [], completed: [], gated: [], pending: 0, partial: scan.partial };
  checkpoint('tick:scanned');
  for (const id of idx.promoted) {
    if (idx.done.has(id)) continue;
    const [skill, rev] = id.split(':') as [string, string];
    const row = await readJson<ChangelogRow>(blobs, Remote.changelog(skill, rev));
    if (!row) continue;
    await complete(blobs, kv, row);
    report.completed.push(id);
  }
  const revs: RevRef[] = tick.only ? onlyRefs(tick.only) : await listStagedRevs(blobs);
  const rule = opts.rule ?? defaultRule;
  for (const { skill, rev } of revs) {
    const id = `${skill}:${rev}`;
    if (idx.promoted.has(id) || idx.rejected.has(id)) continue;
    if (tick.signal.aborted || Date.now() > tick.deadline) {
      report.partial = true;
      break;
    }
    const t = thresholdsFor(opts, skill);
    const d = decide(rule, progressOf(await readTally(blobs, skill, rev), t), t);
    if (!d.promote) {
      report.pending++;
      continue;
    }
    // `only` may name a rev whose rows arrived before the rev itself was staged.
    if (tick.only && !(await stagedFiles(blobs, skill, rev)).length) continue;
    const gate = await manualReviewOf(blobs, skill, rev);
    if (gate) {
      report.gated.push(id);
      continue;
    }
    const res = await promote(blobs, kv, { ts: new Date().toISOString(), skill, rev_id: rev, by: 'quorum', tenants: d.tenants, runs: d.runs, mean: d.mean });
    if (res.promoted) {
      report.promoted.push(res.row);
      tick.log.info(`promoted ${id} by quorum: ${d.reason}`);
    }
  }
  return report;
}

function onlyRefs(only: readonly string[]): RevRef[] {
  const out: RevRef[] = [];
  for (const s of only) {
    const ref = parseSkillRef(s);
    if (ref?.rev) out.push({ skill: ref.skill, rev: ref.rev });
  }
  return out;
}
