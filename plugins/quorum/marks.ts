import type { BlobStore, KV } from '../../core/ports.ts';
import { readLog, type ChangelogEntry } from '../../domain/changelog.ts';
import { appendEntry } from './changelog.ts';
import { QuorumErrorCode as Q, quorumError } from './errors.ts';
import { finishEntry } from './finish.ts';

/** What an operator's clear, pin or unpin did: `changed` false when it was so already. */
export interface MarkResult {
  changed: boolean;
  entry: ChangelogEntry | null;
}

/**
 * Lifts the mark a rollback put on a rev: from now on the quorum may promote it again, on its
 * tally (runs counted before the rollback still count). One `clear` entry, once; clearing a rev
 * that is not marked any more changes nothing; a rev that was never rolled back is refused.
 */
export async function clearMark(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, reason: string, now: number): Promise<MarkResult> {
  const out = await appendEntry(blobs, skill, (log) => {
    const h = log.revs[rev];
    if (h === 'cleared') return null;
    if (h !== 'rolled-back') throw quorumError(Q.NotRolledBack, `${skill}:${rev} was never rolled back: there is no mark to clear`);
    return { ts: new Date(now).toISOString(), skill, rev_id: rev, action: 'clear', by: `manual:${by}`, tenants: 0, runs: 0, mean: null, ...(reason ? { reason } : {}) };
  });
  if (out.entry) await finishEntry(blobs, kv, out.entry, { log: out.log, now });
  return { changed: out.appended, entry: out.entry };
}

/**
 * Pins a rev (the watch never rolls it back; an operator still can) or unpins it. One entry,
 * once; a rev pinned already (or not pinned, to unpin) changes nothing.
 */
export async function setPin(blobs: BlobStore, kv: KV, skill: string, rev: string, pin: boolean, by: string, reason: string, now: number): Promise<MarkResult> {
  const out = await appendEntry(blobs, skill, (log) => {
    if (log.pins.includes(rev) === pin) return null;
    return { ts: new Date(now).toISOString(), skill, rev_id: rev, action: pin ? 'pin' : 'unpin', by: `manual:${by}`, tenants: 0, runs: 0, mean: null, ...(reason ? { reason } : {}) };
  });
  if (out.entry) await finishEntry(blobs, kv, out.entry, { log: out.log, now });
  return { changed: out.appended, entry: out.entry };
}

/** Whether `rev` of `skill` is pinned now. */
export async function isPinned(blobs: BlobStore, skill: string, rev: string): Promise<boolean> {
  return (await readLog(blobs, skill)).pins.includes(rev);
}
