import { checkpoint } from '../../core/checkpoint.ts';
import type { TickContext } from '../../core/context.ts';
import { Remote } from '../../domain/layout.ts';
import { parseSkillRef } from '../../domain/names.ts';
import { isMalformed, readJson } from '../../domain/json-store.ts';
import { type QuorumOptions, thresholdsFor } from './options.ts';
import { assertExactlyOnce } from './probe.ts';
import { complete, promote, type ChangelogRow } from './promote.ts';
import { countedTally, recordCache, shippableLookup } from './identity.ts';
import { gateOf, listStagedRevs, promotionIndex, type RevRef } from './revs.ts';
import { decide, defaultRule, progressOf } from './rule.ts';
import { scanNewBatches, type Problem, type ScanResult } from './scan.ts';
import { readTally } from './tally.ts';
import { quarantineRev, verifyStagedRev } from './verify.ts';

/** One rev the tick looked at, and where it stands now (one line each in `snappy run tick`). */
export interface RevOutcome {
  rev: string;
  outcome: 'promoted' | 'gated' | 'pending' | 'quarantined' | 'incomplete' | 'unreadable';
  reason: string;
}

/** What one quorum tick did (the tick's `results.quorum`). */
export interface QuorumTickReport {
  scan: ScanResult;
  /** Promotions this tick made (it stored their changelog rows). */
  promoted: ChangelogRow[];
  /** Promotions found unfinished (a killed tick) and finished now. */
  completed: string[];
  /** Revs that meet the rule but wait for an operator (`manual_review`, or a gated skill). */
  gated: string[];
  /** Revs this tick quarantined: their bytes do not match what was endorsed. */
  quarantined: { rev: string; reason: string }[];
  /** Revs evaluated that do not meet the rule yet. */
  pending: number;
  /** Every rev whose tally changed or that was decided this tick, with its outcome. */
  revs: RevOutcome[];
  /** Objects skipped because they were unreadable or malformed: nothing else stopped for them. */
  problems: Problem[];
  /** True when the deadline stopped the tick early; the next tick continues. */
  partial: boolean;
}

/**
 * The quorum tick (docs/contract.md, "Quorum"). First, unless the operator declared a single writer, the store
 * must enforce conditional writes (else E_BACKEND). Then: take in new aggregate batches (only
 * revs that are staged get tallies), finish interrupted promotions, freeze the manifest of any
 * rev staged without one, and evaluate every staged rev not yet promoted, rejected or
 * quarantined (or only `tick.only`). A rev is promoted only when its staged bytes still match
 * its manifest; otherwise it is quarantined. One unreadable object is reported and skipped.
 */
export async function quorumTick(tick: TickContext, opts: QuorumOptions): Promise<QuorumTickReport> {
  const { blobs, kv } = tick;
  await assertExactlyOnce(blobs, opts.singleWriter, tick.log);
  const problems: Problem[] = [];
  const problem = (p: Problem) => {
    problems.push(p);
    tick.log.warn(`quorum: skipped ${p.key}: ${p.reason}`);
  };
  const idx = await promotionIndex(blobs);
  const closed = new Set([...idx.promoted, ...idx.rejected, ...idx.quarantined]);
  const revs: RevRef[] = tick.only ? await existing(blobs, onlyRefs(tick.only)) : await listStagedRevs(blobs);
  const scan = await scanNewBatches(blobs, { now: tick.now, deadline: tick.deadline - 2_000, clock: tick.clock, discover: opts.discover, staged: new Set(revs.map((r) => `${r.skill}:${r.rev}`)), closed, problem, shippable: shippableLookup(blobs, recordCache()) });
  const report: QuorumTickReport = { scan, promoted: [], completed: [], gated: [], quarantined: [], pending: 0, revs: [], problems, partial: scan.partial };
  const touched = new Set(scan.touched);
  checkpoint('tick:scanned');
  for (const id of idx.promoted) {
    if (idx.done.has(id)) continue;
    const [skill, rev] = id.split(':') as [string, string];
    try {
      const row = await readJson<ChangelogRow>(blobs, Remote.changelog(skill, rev));
      if (!row) continue;
      const r = await complete(blobs, kv, row, { problem });
      if (r.quarantined) report.quarantined.push({ rev: id, reason: r.quarantined.reason });
      else report.completed.push(id);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      problem({ key: Remote.changelog(skill, rev), reason: (err as Error).message });
    }
  }
  if (!tick.only) await freezeManifests(blobs, revs, closed, problem);
  const rule = opts.rule ?? defaultRule;
  const records = recordCache();
  for (const { skill, rev } of revs) {
    const id = `${skill}:${rev}`;
    if (closed.has(id)) continue;
    if (tick.signal.aborted || tick.clock.now() > tick.deadline) {
      report.partial = true;
      break;
    }
    const t = thresholdsFor(opts, skill);
    let tally;
    try {
      tally = await readTally(blobs, skill, rev);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      problem({ key: Remote.tally(skill, rev), reason: (err as Error).message });
      report.revs.push({ rev: id, outcome: 'unreadable', reason: 'its tally is malformed' });
      continue;
    }
    const counted = await countedTally(blobs, tally, !!opts.admittedOnly, records);
    const d = decide(rule, progressOf(counted.tally, t, counted.standing), t);
    if (!d.promote) {
      report.pending++;
      if (touched.has(id)) report.revs.push({ rev: id, outcome: 'pending', reason: d.reason });
      continue;
    }
    const gate = await gateOf(blobs, opts, skill, rev);
    if (gate) {
      report.gated.push(id);
      report.revs.push({ rev: id, outcome: 'gated', reason: `${d.reason}; waits for an operator (manual review: ${gate})` });
      continue;
    }
    const res = await promote(blobs, kv, { ts: new Date(tick.now).toISOString(), skill, rev_id: rev, by: 'quorum', tenants: d.tenants, runs: d.runs, mean: d.mean }, { problem });
    if (res.quarantined) {
      report.quarantined.push({ rev: id, reason: res.quarantined.reason });
      report.revs.push({ rev: id, outcome: 'quarantined', reason: res.quarantined.reason });
      tick.log.warn(`quarantined ${id}: ${res.quarantined.reason}`);
    } else if (res.incomplete) {
      report.revs.push({ rev: id, outcome: 'incomplete', reason: res.incomplete });
    } else if (res.promoted) {
      report.promoted.push(res.row);
      report.revs.push({ rev: id, outcome: 'promoted', reason: d.reason });
      tick.log.info(`promoted ${id} by quorum: ${d.reason}`);
    }
  }
  return report;
}

/**
 * Revs staged without a manifest (a push of a release before manifests, in direct mode) are
 * frozen the first time a tick sees them: from then on, changed bytes quarantine the rev.
 */
async function freezeManifests(blobs: TickContext['blobs'], revs: readonly RevRef[], closed: ReadonlySet<string>, problem: (p: Problem) => void): Promise<void> {
  const have = new Set<string>();
  for await (const o of blobs.list(Remote.manifestPrefix)) have.add(o.key);
  for (const { skill, rev } of revs) {
    if (closed.has(`${skill}:${rev}`) || have.has(Remote.manifest(skill, rev))) continue;
    const v = await verifyStagedRev(blobs, skill, rev);
    // A page that does not hash to its rev id can never be promoted: say so once, for good.
    if (!v.ok && !v.incomplete) {
      const q = await quarantineRev(blobs, skill, rev, v.reason);
      problem({ key: Remote.stagedDir(skill, rev), reason: `quarantined: ${q.reason}` });
    }
  }
}

function onlyRefs(only: readonly string[]): RevRef[] {
  const out: RevRef[] = [];
  for (const s of only) {
    const ref = parseSkillRef(s);
    if (ref?.rev) out.push({ skill: ref.skill, rev: ref.rev });
  }
  return out;
}

/** Of `refs`, those actually staged (an ingest may name a rev nobody staged). */
async function existing(blobs: TickContext['blobs'], refs: RevRef[]): Promise<RevRef[]> {
  const out: RevRef[] = [];
  for (const r of refs) if (await blobs.head(Remote.staged(r.skill, r.rev))) out.push(r);
  return out;
}
