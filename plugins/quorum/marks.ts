import type { BlobStore, KV } from '../../core/ports.ts';
import type { ChangelogEntry, SkillLog } from '../../domain/changelog.ts';
import { appendEntry } from './changelog.ts';
import { QuorumErrorCode as Q, quorumError } from './errors.ts';
import { finishEntry } from './finish.ts';

/** What an operator's clear, pin or unpin did: `changed` false when it was so already. */
export interface MarkResult {
  changed: boolean;
  entry: ChangelogEntry | null;
}

/**
 * One operator's mark on a rev, once: `decide` reads the skill's log and returns the entry's
 * action (null: so already, nothing to write; or it throws to refuse); the entry is appended
 * by `manual:<by>` and its effects applied.
 */
async function appendMark(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason: string, now: number, decide: (log: SkillLog) => ChangelogEntry['action'] | null): Promise<MarkResult> {
  const out = await appendEntry(blobs, skill, (log) => {
    const action = decide(log);
    if (!action) return null;
    return { ts: new Date(now).toISOString(), skill, rev_id: rev, action, by: `manual:${by}`, tenants: 0, runs: 0, mean: null, ...(reason ? { reason } : {}) };
  });
  if (out.entry) await finishEntry(blobs, kv, out.entry, { log: out.log, now });
  return { changed: out.appended, entry: out.entry };
}

/**
 * Lifts the mark a rollback put on a rev: from now on the quorum may promote it again, on its
 * tally (runs counted before the rollback still count). One `clear` entry, once; clearing a rev
 * that is not marked any more changes nothing; a rev that was never rolled back is refused.
 */
export function clearMark(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason: string, now: number): Promise<MarkResult> {
  return appendMark(blobs, kv, skill, rev, by, reason, now, (log) => {
    const h = log.revs[rev];
    if (h === 'cleared') return null;
    if (h !== 'rolled-back') throw quorumError(Q.NotRolledBack, `${skill}:${rev} was never rolled back: there is no mark to clear`);
    return 'clear';
  });
}

/**
 * Reopens an expired rev (`snappy ops revive`): the quorum tallies and decides it again, tenants
 * pull and evaluate it again, and its expiry clock starts over. One `revive` entry, once;
 * reviving a rev revived already changes nothing; a rev that is not expired is refused.
 */
export function reviveRev(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason: string, now: number): Promise<MarkResult> {
  return appendMark(blobs, kv, skill, rev, by, reason, now, (log) => {
    const h = log.revs[rev];
    if (h === 'revived') return null;
    if (h !== 'expired') throw quorumError(Q.NotExpired, `${skill}:${rev} is not expired${h ? ` (it is ${h})` : ''}: there is nothing to revive`);
    return 'revive';
  });
}

/**
 * Pins a rev (the watch never rolls it back; an operator still can) or unpins it. One entry,
 * once; a rev pinned already (or not pinned, to unpin) changes nothing.
 */
export function setPin(blobs: BlobStore, kv: KV, skill: string, rev: string, pin: boolean, by: string, reason: string, now: number): Promise<MarkResult> {
  return appendMark(blobs, kv, skill, rev, by, reason, now, (log) => (log.pins.includes(rev) === pin ? null : pin ? 'pin' : 'unpin'));
}
