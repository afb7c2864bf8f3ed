import { checkpoint } from '../../core/checkpoint.ts';
import type { TickContext } from '../../core/context.ts';
import { Remote } from '../../domain/layout.ts';
import { parseSkillRef } from '../../domain/names.ts';
import { isMalformed } from '../../domain/json-store.ts';
import { logReader, readEntry, readLog, type ChangelogEntry } from '../../domain/changelog.ts';
import { expiryMsFor, gateOptionsFor, type QuorumOptions, thresholdsFor, watchOptionsFor } from './options.ts';
import { clockFrom, expireRev, expiryEntryOf, sinceOf } from './expiry.ts';
import { compareWithCanonical, type RegressionCheck } from './regression.ts';
import { assertExactlyOnce } from './probe.ts';
import { promote, type ChangelogRow } from './promote.ts';
import { finishEntry } from './finish.ts';
import { countedTally, recordCache, shippableLookup } from './identity.ts';
import { gateOf, listStagedRevs, promotionIndex, type RevRef } from './revs.ts';
import { openWatches, type WatchRef } from './watch.ts';
import { watchTick, type WatchOutcome } from './watch-tick.ts';
import { decide, defaultRule, progressOf, type Progress, type Thresholds } from './rule.ts';
import { scanNewBatches, type Problem, type ScanResult } from './scan.ts';
import { readTally } from './tally.ts';
import { quarantineRev, verifyStagedRev } from './verify.ts';
import { daysWords, progressWords } from './words.ts';
import { QuorumErrorCode as Q } from './errors.ts';

/** One rev the tick looked at, and where it stands now (one line each in `snappy run tick`). */
export interface RevOutcome {
  rev: string;
  outcome: 'promoted' | 'gated' | 'pending' | 'expired' | 'quarantined' | 'incomplete' | 'unreadable';
  reason: string;
  /** Where its quorum stands (absent when its tally could not be read). */
  progress?: RevProgress;
  /** Why a gated rev waits for an operator: its page's `manual_review`, or the config glob. */
  manualReview?: string;
  /** The regression gate's comparison, when the skill opted in and the rule would promote. */
  regression?: RegressionCheck;
}

/** A rev's quorum in numbers, and in the words `snappy run tick` prints. */
export interface RevProgress {
  endorsing: number;
  endorsingRuns: number;
  mean: number | null;
  minTenants: number;
  minRuns: number;
  /** `2 of 3 tenants endorse; 4 runs, 5 needed; mean 0.915`. */
  words: string;
}

/** What one quorum tick did (the tick's `results.quorum`). */
export interface QuorumTickReport {
  scan: ScanResult;
  /** Promotions this tick made (it stored their changelog rows). */
  promoted: ChangelogRow[];
  /** Changelog entries found unfinished (a killed tick) and finished now, as `skill:rev` (`#seq action`). */
  completed: string[];
  /** Rollbacks this tick made (it stored their changelog entries). */
  rolledBack: ChangelogEntry[];
  /** Every open post-promotion watch the tick judged (or closed), with its verdict. */
  watches: WatchOutcome[];
  /** Revs that meet the rule but wait for an operator (`manual_review`, or a gated skill). */
  gated: string[];
  /** Revs this tick quarantined: their bytes do not match what was endorsed. */
  quarantined: { rev: string; reason: string }[];
  /** Revs evaluated that do not meet the rule yet (or wait at the regression gate). */
  pending: number;
  /** Revs this tick expired (it stored their changelog entries), as `skill:rev`. */
  expired: string[];
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
 * revs that are staged get tallies; plain rows of a watched skill go to its watch), finish
 * changelog entries killed ticks left, judge every open post-promotion watch and roll back a
 * page its tenants object to, freeze the manifest of any rev staged without one, and evaluate
 * every staged rev not yet promoted (or cleared since its rollback), rejected or quarantined
 * (or only `tick.only`). A rev is promoted only when its staged bytes still match
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
  const idx = await promotionIndex(blobs, problem);
  const closed = new Set([...idx.changelog.closed, ...idx.rejected, ...idx.quarantined]);
  const revs: RevRef[] = tick.only ? await existing(blobs, onlyRefs(tick.only)) : await listStagedRevs(blobs);
  const open = await openWatches(blobs);
  // One open watch per skill: the newest promotion's (an older one is closed below).
  const watching = new Map<string, WatchRef>();
  for (const w of open) if ((watching.get(w.skill)?.seq ?? 0) < w.seq) watching.set(w.skill, w);
  // The scan takes in every new batch whatever revs this tick evaluates, and records each as read:
  // it must count the runs of every staged rev, not only of `tick.only`'s, or they are lost.
  const staged = tick.only ? await listStagedRevs(blobs) : revs;
  const scan = await scanNewBatches(blobs, { now: tick.now, deadline: tick.deadline - 2_000, clock: tick.clock, discover: opts.discover, staged: new Set(staged.map((r) => `${r.skill}:${r.rev}`)), closed, watching, problem, shippable: shippableLookup(blobs, recordCache()), ingested: tick.runtime === 'worker' });
  const report: QuorumTickReport = { scan, promoted: [], completed: [], rolledBack: [], watches: [], gated: [], quarantined: [], pending: 0, expired: [], revs: [], problems, partial: scan.partial };
  const touched = new Set(scan.touched);
  checkpoint('tick:scanned');
  await finishUnfinished(tick, opts, idx, report, problem);
  const w = await watchTick(tick, opts, idx, open, problem);
  report.watches = w.watches;
  report.rolledBack = w.rolledBack;
  if (w.partial) report.partial = true;
  if (!tick.only) for (const q of await freezeManifests(blobs, revs, closed, problem)) report.revs.push({ rev: q.rev, outcome: 'quarantined', reason: q.reason });
  const rule = opts.rule ?? defaultRule;
  const records = recordCache();
  // Each skill's changelog, read once and only for the revs that need it; null when malformed (reported).
  const logOf = logReader(blobs, problem);
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
    const p = progressOf(counted.tally, t, counted.standing);
    const d = decide(rule, p, t);
    const progress = progressIn(p, t);
    // The expiry clock starts the first time a tick sees the rev (and again at a revive).
    const since = await sinceOf(blobs, skill, rev, { record: tick.now });
    const history = idx.changelog.skills.get(skill)?.revs.get(rev);
    /** Expires the rev when its time is up (it was not promoted this tick); true when it is expired now. */
    const expireIfDue = async (): Promise<boolean> => {
      const ms = expiryMsFor(opts, skill);
      if (ms === null) return false;
      const reopened = history === 'revived' || history === 'cleared';
      const log = reopened ? await logOf(skill) : null;
      // When the clock restarted cannot be told from an unreadable changelog: no expiry until it can.
      if (reopened && !log) return false;
      const reopen = log ? await expiryEntryOf(blobs, log, rev) : null;
      const from = clockFrom(since, reopen);
      if (from === null || tick.now < from + ms) return false;
      const reason = `expired after ${daysWords(ms)}: ${progressWords(p, t)}`;
      const e = await expireRev(blobs, kv, skill, rev, { history, expirySeq: log?.expiries?.[rev] }, { ts: new Date(tick.now).toISOString(), tenants: p.endorsing, runs: p.endorsingRuns, mean: p.mean, reason }, tick.clock.now());
      if (!e) return false;
      report.expired.push(id);
      report.revs.push({ rev: id, outcome: 'expired', reason, progress });
      return true;
    };
    if (!d.promote) {
      if (await expireIfDue()) continue;
      report.pending++;
      if (touched.has(id)) report.revs.push({ rev: id, outcome: 'pending', reason: d.reason, progress });
      continue;
    }
    const go = gateOptionsFor(opts, skill);
    let regression: RegressionCheck | undefined;
    if (go) {
      const log = await logOf(skill);
      // No canonical to compare with cannot be told from an unreadable changelog: the rev waits.
      if (!log) {
        report.revs.push({ rev: id, outcome: 'unreadable', reason: 'its changelog is malformed: the regression gate cannot compare it with the canonical', progress });
        continue;
      }
      regression = await compareWithCanonical(blobs, counted.tally, counted.standing, log, since, go);
      if (!regression.passes) {
        if (await expireIfDue()) continue;
        report.pending++;
        if (touched.has(id)) report.revs.push({ rev: id, outcome: 'pending', reason: `${d.reason}; regression gate: ${regression.words}`, progress, regression });
        continue;
      }
    }
    const gate = await gateOf(blobs, opts, skill, rev);
    if (gate) {
      if (await expireIfDue()) continue;
      report.gated.push(id);
      report.revs.push({ rev: id, outcome: 'gated', reason: `${d.reason}; waits for an operator (manual review: ${gate})`, progress, manualReview: gate, ...(regression ? { regression } : {}) });
      continue;
    }
    const wo = watchOptionsFor(opts, skill);
    const res = await promote(blobs, kv, { ts: new Date(tick.now).toISOString(), skill, rev_id: rev, by: 'quorum', tenants: d.tenants, runs: d.runs, mean: d.mean }, { problem, watch: wo.enabled ? { graceMs: wo.graceMs } : null, now: tick.clock.now() });
    if (res.quarantined) {
      report.quarantined.push({ rev: id, reason: res.quarantined.reason });
      report.revs.push({ rev: id, outcome: 'quarantined', reason: res.quarantined.reason, progress });
      tick.log.warn(`quarantined ${id}: ${res.quarantined.reason}`);
    } else if (res.incomplete) {
      report.revs.push({ rev: id, outcome: 'incomplete', reason: res.incomplete, progress });
    } else if (res.promoted) {
      report.promoted.push(res.row);
      report.revs.push({ rev: id, outcome: 'promoted', reason: regression ? `${d.reason}; regression gate: ${regression.words}` : d.reason, progress, ...(regression ? { regression } : {}) });
    }
  }
  return report;
}

/**
 * Finishes what killed ticks left: changelog entries without their done marker, oldest first
 * per skill (rows of the older release first). An entry that cannot be finished now (its bytes
 * are not all there, the rev to restore no longer matches its manifest, an unreadable object)
 * is reported and tried again next tick; the others go on.
 */
async function finishUnfinished(tick: TickContext, opts: QuorumOptions, idx: Awaited<ReturnType<typeof promotionIndex>>, report: QuorumTickReport, problem: (p: Problem) => void): Promise<void> {
  const { blobs, kv } = tick;
  for (const s of idx.changelog.skills.values()) {
    if (!s.unfinished.length && !s.unfinishedLegacy.length) continue;
    const wo = watchOptionsFor(opts, s.skill);
    try {
      const log = await readLog(blobs, s.skill, problem);
      const legacy: ChangelogEntry[] = [];
      for (const rev of s.unfinishedLegacy) {
        const seq = Object.entries(log.promotions).find(([q, p]) => p.rev_id === rev && Number(q) <= log.legacy)?.[0];
        const e = seq ? await readEntry(blobs, log, Number(seq)) : null;
        if (e) legacy.push(e);
      }
      for (const e of [...legacy.sort((a, b) => a.seq - b.seq), ...s.unfinished]) {
        try {
          const r = await finishEntry(blobs, kv, e, { problem, log, watch: wo.enabled && e.seq > log.legacy ? { graceMs: wo.graceMs } : null, now: tick.clock.now() });
          const id = `${e.skill}:${e.rev_id}`;
          if (r.quarantined) {
            report.quarantined.push({ rev: id, reason: r.quarantined.reason });
            report.revs.push({ rev: id, outcome: 'quarantined', reason: r.quarantined.reason });
          } else {
            report.completed.push(`${id} (#${e.seq} ${e.action})`);
            if (e.action === 'promote') report.revs.push({ rev: id, outcome: 'promoted', reason: `finished the promotion an interrupted tick began (by ${e.by} at ${e.ts})` });
          }
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (!isMalformed(err) && code !== Q.CannotRestore && code !== Q.Incomplete) throw err;
          problem({ key: Remote.changelogEntry(e.skill, e.seq), reason: (err as Error).message });
        }
      }
    } catch (err) {
      if (!isMalformed(err)) throw err;
      problem({ key: `${Remote.changelogPrefix}${s.skill}/`, reason: (err as Error).message });
    }
  }
}

/**
 * Revs staged without a manifest (a push of a release before manifests, in direct mode) are
 * frozen the first time a tick sees them: from then on, changed bytes quarantine the rev.
 */
async function freezeManifests(blobs: TickContext['blobs'], revs: readonly RevRef[], closed: ReadonlySet<string>, problem: (p: Problem) => void): Promise<{ rev: string; reason: string }[]> {
  const out: { rev: string; reason: string }[] = [];
  const have = new Set<string>();
  for await (const o of blobs.list(Remote.manifestPrefix)) have.add(o.key);
  for (const { skill, rev } of revs) {
    if (closed.has(`${skill}:${rev}`) || have.has(Remote.manifest(skill, rev))) continue;
    const v = await verifyStagedRev(blobs, skill, rev);
    // A page that does not hash to its rev id can never be promoted: say so once, for good.
    if (!v.ok && !v.incomplete) {
      const q = await quarantineRev(blobs, skill, rev, v.reason);
      problem({ key: Remote.stagedDir(skill, rev), reason: `quarantined: ${q.reason}` });
      out.push({ rev: `${skill}:${rev}`, reason: q.reason });
    }
  }
  return out;
}

function progressIn(p: Progress, t: Thresholds): RevProgress {
  return { endorsing: p.endorsing, endorsingRuns: p.endorsingRuns, mean: p.mean, minTenants: t.minTenants, minRuns: t.minRuns, words: progressWords(p, t) };
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
