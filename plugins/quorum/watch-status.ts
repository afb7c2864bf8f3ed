import type { BlobStore, KV } from '../../core/ports.ts';
import { readEntry, readLog, type ChangelogEntry } from '../../domain/changelog.ts';
import { revIdOf } from '../../domain/hash.ts';
import { nullIfMalformed } from '../../domain/json-store.ts';
import { recordCache } from './identity.ts';
import { changelogIndex } from './changelog.ts';
import type { WatchVerdict } from './objection.ts';
import type { QuorumOptions } from './options.ts';
import { lastRollback } from './revs.ts';
import { adopt, openWatches, readWatch } from './watch.ts';
import { judgeWatch } from './watch-tick.ts';

/** An open watch as status shows it: the verdict as things stand, and whether the rev is pinned. */
export interface WatchStatus extends WatchVerdict {
  by: string;
  pinned: boolean;
}

/** A rollback as status shows it: its entry, and whether the rev is still marked. */
export interface RollbackStatus extends ChangelogEntry {
  /** Still marked: the quorum will not promote it until an operator clears the mark. */
  marked: boolean;
}

/** What `snappy status`, /v1/status and /snappy-ops show of the watch. */
export interface WatchReport {
  watches: WatchStatus[];
  pins: { skill: string; rev: string }[];
  /** Newest first, at most `ROLLBACKS_SHOWN`. */
  rollbacks: RollbackStatus[];
  last_quorum_rollback: Record<string, unknown> | null;
}

const ROLLBACKS_SHOWN = 20;

/** Every open watch judged now, every pin, and the newest rollbacks. A malformed object is left out, never fatal. */
export async function watchReport(blobs: BlobStore, kv: KV, opts: QuorumOptions): Promise<WatchReport> {
  const [open, idx, last] = await Promise.all([openWatches(blobs), changelogIndex(blobs), lastRollback(kv).catch(() => null)]);
  const records = recordCache();
  const watches: WatchStatus[] = [];
  for (const ref of open) {
    const s = idx.skills.get(ref.skill);
    if (s?.promoted?.seq !== ref.seq) continue;
    const w = await readWatch(blobs, ref).catch(nullIfMalformed);
    if (!w) continue;
    watches.push({ ...(await judgeWatch({ blobs }, opts, w, records)), by: w.by, pinned: s.pins.has(w.rev) });
  }
  const pins: { skill: string; rev: string }[] = [];
  const rollbacks: RollbackStatus[] = [];
  for (const s of idx.skills.values()) {
    for (const rev of s.pins) pins.push({ skill: s.skill, rev });
    if (![...s.revs.values()].some((h) => h !== 'promoted')) continue;
    const log = await readLog(blobs, s.skill).catch(nullIfMalformed);
    if (!log) continue;
    for (const seq of Object.values(log.rollbacks)) {
      const e = await readEntry(blobs, log, seq).catch(() => null);
      if (e) rollbacks.push({ ...e, marked: log.revs[e.rev_id] === 'rolled-back' });
    }
  }
  rollbacks.sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : b.seq - a.seq));
  return { watches, pins, rollbacks: rollbacks.slice(0, ROLLBACKS_SHOWN), last_quorum_rollback: last };
}

/**
 * A tenant pushed its page of `skill` through the Worker: if it is the promoted page an open
 * watch waits for, the tenant adopted it now (its runs count from now plus the grace).
 */
export async function notePagePush(blobs: BlobStore, tenant: string, skill: string, bytes: Uint8Array, now: number): Promise<boolean> {
  const open = await openWatches(blobs, skill);
  if (!open.length) return false;
  const id = await revIdOf(bytes);
  let adopted = false;
  for (const ref of open) {
    const w = await readWatch(blobs, ref).catch(() => null);
    if (w?.rev === id) adopted = (await adopt(blobs, ref, tenant, now, 'push')) || adopted;
  }
  return adopted;
}

/** Skills with an open watch (one listing): the Worker's ingest evaluates a watch at once only for these. */
export async function watchedSkills(blobs: BlobStore): Promise<Set<string>> {
  return new Set((await openWatches(blobs)).map((w) => w.skill));
}
