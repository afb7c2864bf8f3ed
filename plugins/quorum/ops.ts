import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { isMalformed, nullIfMalformed, readJson } from '../../domain/json-store.ts';
import { promotionOf, readLog } from '../../domain/changelog.ts';
import { promote, stagedFiles, type PromoteResult, type PromotionRequest } from './promote.ts';
import type { Rejection } from './revs.ts';
import { clearMark, reviveRev, setPin, type MarkResult } from './marks.ts';
import { rollback, type RollbackResult } from './rollback.ts';
import { emptyTally, readTally } from './tally.ts';
import { quarantineOf } from './verify.ts';
import { revDiff } from '../../domain/rev-diff.ts';
import { progressOf } from './rule.ts';
import { countedTally, recordCache } from './identity.ts';
import { QuorumErrorCode as Q, quorumError } from './errors.ts';

const NAME = /^[A-Za-z0-9._@+-]{1,64}$/;

function checkRef(skill: string, rev: string): void {
  if (!isSkillName(skill)) throw quorumError(Q.BadRef, `skill ${JSON.stringify(skill)} is not a valid skill name`);
  if (!isRevId(rev)) throw quorumError(Q.BadRef, `rev id ${JSON.stringify(rev)} is not 12 lower-case hex characters`);
}

function checkName(by: string, what: string): void {
  if (!NAME.test(by)) throw quorumError(Q.BadInput, `${what} ${JSON.stringify(by)}: expected 1-64 characters of [A-Za-z0-9._@+-]`);
}

/** An operator's act on a rev: the ref, the operator's name and a reason of at most 1000 characters. */
function checkAct(skill: string, rev: string, by: string, reason: string): void {
  checkRef(skill, rev);
  checkName(by, 'operator');
  if (reason.length > 1000) throw quorumError(Q.BadInput, 'reason: at most 1000 characters');
}

/** Refuses a rev with nothing staged (NoSuchRev, naming where it looked). */
async function requireStaged(blobs: BlobStore, skill: string, rev: string): Promise<void> {
  if (!(await stagedFiles(blobs, skill, rev)).length) throw quorumError(Q.NoSuchRev, `no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`);
}

/**
 * Approves a staged rev: promotes it now, whatever its quorum and gate, recording
 * `manual:<by>` (the operator, never the page's author) in its changelog row. Approving an
 * already promoted rev changes nothing. A quarantined rev, or one whose bytes no longer match
 * its manifest, is refused (409): an approval promotes what was staged, nothing else.
 */
export async function approveRev(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, opts: { now?: number; watch?: { graceMs: number } | null; pinned?: boolean; shown?: string } = {}): Promise<PromoteResult & { approval?: Approval }> {
  const now = opts.now ?? Date.now();
  const shown = opts.shown;
  checkRef(skill, rev);
  checkName(by, 'approver');
  if (shown !== undefined && !/^[0-9a-f]{16}$/.test(shown)) throw quorumError(Q.BadInput, `diff ${JSON.stringify(shown)}: expected the 16-hex diff id \`snappy ops diff\` or the ops page shows`);
  await requireStaged(blobs, skill, rev);
  const q = await quarantineOf(blobs, skill, rev);
  if (q) throw quorumError(Q.Quarantined, `${skill}:${rev} is quarantined (${q.reason}); it can never be promoted`);
  // What the page becomes is every agent's instructions: the approval records which diff the
  // operator saw, and refuses one that no longer describes the change (canonical moved since).
  // A rev canonical now changes nothing; a rolled back one is refused by promote until cleared.
  const history = (await readLog(blobs, skill).catch(nullIfMalformed))?.revs[rev];
  let approval: Approval | undefined;
  if (history === undefined || history === 'cleared' || history === 'expired' || history === 'revived') {
    const d = await revDiff(blobs, skill, rev);
    if (shown !== undefined && shown !== d.diffId) {
      throw quorumError(Q.StaleDiff, `${skill}:${rev}: the diff shown (${shown}) is not the change any more (now ${d.diffId}${d.canonicalRev ? `, against canonical rev ${d.canonicalRev}` : ''}): canonical or the rev changed since; look again (snappy ops diff ${skill} ${rev}) and approve what you see`, { shown, current: d.diffId });
    }
    approval = { ts: new Date(now).toISOString(), skill, rev_id: rev, by, diff: d.diffId, shown: shown !== undefined, against: d.canonicalRev };
    await blobs.put(Remote.approval(skill, rev), JSON.stringify(approval), { contentType: 'application/json' });
  }
  const tally = await readTally(blobs, skill, rev).catch((err) => (isMalformed(err) ? emptyTally(skill, rev) : Promise.reject(err)));
  const p = progressOf((await countedTally(blobs, tally, false, recordCache())).tally, { minTenants: 1, minRuns: 1, minScore: 0 });
  const row: PromotionRequest = { ts: new Date(now).toISOString(), skill, rev_id: rev, by: `manual:${by}`, tenants: p.tenants.length, runs: p.totalRuns, mean: p.mean };
  const res = await promote(blobs, kv, row, { now, watch: opts.watch ?? null, ...(opts.pinned ? { pinned: true } : {}) });
  if (res.quarantined) throw quorumError(Q.Quarantined, `${skill}:${rev} was not promoted: ${res.quarantined.reason}; it is quarantined now`);
  if (res.incomplete) throw quorumError(Q.Incomplete, `${skill}:${rev} cannot be promoted yet: ${res.incomplete}`);
  return approval && res.promoted ? { ...res, approval } : res;
}

/**
 * What an operator approved (`snappy-quorum/approved/<skill>/<rev>.json`): the diff's id, whether
 * the operator named it (saw it) or approved without, and the canonical rev it was against.
 */
export interface Approval {
  ts: string;
  skill: string;
  rev_id: string;
  by: string;
  diff: string;
  shown: boolean;
  against: string | null;
}

/** The approval record of a rev, if an operator approved it. */
export async function approvalOf(blobs: BlobStore, skill: string, rev: string): Promise<Approval | null> {
  checkRef(skill, rev);
  return readJson<Approval>(blobs, Remote.approval(skill, rev)).catch(nullIfMalformed);
}

/** Rejects a staged rev: the tick never promotes it (an approval still can). */
export async function rejectRev(blobs: BlobStore, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<Rejection> {
  checkAct(skill, rev, by, reason);
  await requireStaged(blobs, skill, rev);
  const log = await readLog(blobs, skill);
  const h = log.revs[rev];
  const done = h === 'promoted' || h === 'rolled-back' || h === 'cleared' ? ((await promotionOf(blobs, log, rev).catch(nullIfMalformed)) ?? { ts: '?', by: '?' }) : null;
  if (done) throw quorumError(Q.AlreadyPromoted, `${skill}:${rev} was already promoted at ${done.ts} by ${done.by}`);
  const rec: Rejection = { ts: new Date(now).toISOString(), by, reason };
  await blobs.put(Remote.rejection(skill, rev), JSON.stringify(rec), { contentType: 'application/json' });
  return rec;
}

/**
 * An operator's rollback of a skill's canonical page (`snappy ops rollback`, /snappy-ops): to
 * what its promotion replaced, or withdrawn when it replaced nothing, whether the watch objects
 * or not and pinned or not. With `rev`, only when that rev is still the canonical one (a second
 * click, or a second operator, rolls back nothing more). The rev is marked like any rolled back rev.
 */
export async function rollbackSkill(blobs: BlobStore, kv: KV, skill: string, by: string, opts: { rev?: string; reason?: string; now?: number } = {}): Promise<RollbackResult> {
  if (!isSkillName(skill)) throw quorumError(Q.BadRef, `skill ${JSON.stringify(skill)} is not a valid skill name`);
  if (opts.rev !== undefined && !isRevId(opts.rev)) throw quorumError(Q.BadRef, `rev id ${JSON.stringify(opts.rev)} is not 12 lower-case hex characters`);
  checkName(by, 'operator');
  const reason = opts.reason ?? '';
  if (reason.length > 1000) throw quorumError(Q.BadInput, 'reason: at most 1000 characters');
  const now = opts.now ?? Date.now();
  return rollback(blobs, kv, { skill, ts: new Date(now).toISOString(), by: `manual:${by}`, tenants: 0, runs: 0, mean: null, ...(opts.rev ? { expectRev: opts.rev } : {}), ...(reason ? { reason } : {}) }, { now });
}

/** An operator clears the mark a rollback put on a rev (`snappy ops clear`): the quorum may promote it again. */
export async function clearRev(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<MarkResult> {
  checkAct(skill, rev, by, reason);
  return clearMark(blobs, kv, skill, rev, by, reason, now);
}

/** An operator pins (or unpins) a staged rev (`snappy ops pin|unpin`): a pinned rev is never rolled back by the watch. */
export async function pinRev(blobs: BlobStore, kv: KV, skill: string, rev: string, pin: boolean, by: string, reason = '', now = Date.now()): Promise<MarkResult> {
  checkAct(skill, rev, by, reason);
  if (pin) await requireStaged(blobs, skill, rev);
  return setPin(blobs, kv, skill, rev, pin, by, reason, now);
}

/** An operator revives an expired rev (`snappy ops revive`): tenants pull and evaluate it again, the quorum may promote it. */
export async function reviveExpired(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<MarkResult> {
  checkAct(skill, rev, by, reason);
  await requireStaged(blobs, skill, rev);
  return reviveRev(blobs, kv, skill, rev, by, reason, now);
}
