import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import { doneKey, readLog, type ChangelogEntry, type ProblemSink, type SkillLog } from '../../domain/changelog.ts';
import type { RevFile } from '../../domain/staged-rev.ts';
import { restorableRev, writeCanonical } from './canonical.ts';
import { syncHead } from './changelog.ts';
import { QuorumErrorCode, quorumError } from './errors.ts';
import { KvKeys } from './kv-keys.ts';
import { quarantineRev, verifyStagedRev, type Quarantine } from './verify.ts';
import { closeWatch, openWatch } from './watch.ts';

/** What finishing an entry needs besides the stores. */
export interface FinishOptions {
  problem?: ProblemSink;
  /** The log with the entry in it, when the caller has it (saves a read). */
  log?: SkillLog;
  /** promote: the rev's files as just verified. rollback: the restored rev's files as just checked. */
  files?: RevFile[];
  /** promote: open the post-promotion watch, with this grace. */
  watch?: { graceMs: number } | null;
  /** The time of the caller (the tick's), for the done marker. */
  now?: number;
}

/** What an entry's effects left. */
export interface Finished {
  /** Files now in the canonical folder (empty when a later change owns it, or for entries that do not touch it). */
  files: string[];
  quarantined?: Quarantine;
}

/**
 * Carries out what a changelog entry records, idempotently, so that any caller (the one that
 * wrote it, or the next tick after a kill) can finish it without a second entry:
 *  - promote: opens the watch, makes canonical exactly the rev's verified bytes, invalidates
 *    the KV cache, sets `last_quorum_promotion`;
 *  - rollback: makes canonical exactly the restored rev's bytes (checked against its manifest
 *    again) or removes it, invalidates the cache, sets `last_quorum_rollback`, closes the watch;
 *  - clear, pin, unpin, expire, revive: nothing beyond the head (the done marker's name is what
 *    the tick's listing reads to close or reopen the rev).
 * Canonical is left alone when a later promote or rollback exists: that one owns the folder.
 * Then the head catches up and the done marker is written (its name tells the history to the
 * tick's listing).
 */
export async function finishEntry(blobs: BlobStore, kv: KV, e: ChangelogEntry, opts: FinishOptions = {}): Promise<Finished> {
  const { skill } = e;
  const log = opts.log && opts.log.seq >= e.seq ? opts.log : await readLog(blobs, skill, opts.problem);
  const latest = log.lastChange?.seq === e.seq;
  let files: string[] = [];
  if (e.action === 'promote') {
    // Opened before canonical changes, so a tenant that pulls the page at once finds it watched when it pushes it.
    if (latest && opts.watch) await openWatch(blobs, e, opts.watch.graceMs);
    if (latest) {
      let verified = opts.files;
      if (!verified) {
        const v = await verifyStagedRev(blobs, skill, e.rev_id);
        if (!v.ok) {
          if (v.incomplete) throw quorumError(QuorumErrorCode.Incomplete, `cannot finish the promotion of ${skill}:${e.rev_id}: ${v.reason}`);
          return { files: [], quarantined: await quarantineRev(blobs, skill, e.rev_id, `promoted (changelog entry ${e.seq} written), but before its files were copied: ${v.reason}`) };
        }
        verified = v.files;
      }
      // The verified bytes themselves, not a copy of whatever the staged keys hold by now.
      files = await writeCanonical(blobs, skill, verified, 'promote:file-copied');
    }
    checkpoint('promote:canonical-replaced');
    await kv.delete(KvKeys.canonical(skill));
    await putIfNewer(kv, KvKeys.lastPromotion, e.ts, { ts: e.ts, skill, rev_id: e.rev_id, tenants: e.tenants, runs: e.runs });
    checkpoint('promote:kv-updated');
  } else if (e.action === 'rollback') {
    if (latest) {
      let restored: RevFile[] = [];
      if (e.restored) {
        restored = opts.files ?? [];
        if (!opts.files) {
          const r = await restorableRev(blobs, skill, e.restored.rev_id);
          if (!r.ok) throw quorumError(QuorumErrorCode.CannotRestore, `cannot finish the rollback of ${skill}:${e.rev_id}: the previous canonical ${e.restored.rev_id} cannot be restored byte for byte: ${r.reason}`);
          restored = r.files;
        }
      }
      files = await writeCanonical(blobs, skill, restored, 'rollback:file-restored');
    }
    checkpoint('rollback:canonical-restored');
    await kv.delete(KvKeys.canonical(skill));
    await putIfNewer(kv, KvKeys.lastRollback, e.ts, { ts: e.ts, skill, rev_id: e.rev_id, restored: e.restored?.rev_id ?? null, by: e.by, tenants: e.tenants, runs: e.runs });
    checkpoint('rollback:kv-updated');
    if (e.rolled_back !== undefined) await closeWatch(blobs, { skill, seq: e.rolled_back }, 'rolled back', Date.parse(e.ts), `changelog entry ${e.seq}`);
  }
  await syncHead(blobs, log);
  await blobs.put(doneKey(e, log), JSON.stringify({ ts: e.ts, completed: new Date(opts.now ?? Date.now()).toISOString() }), { ifAbsent: true, contentType: 'application/json' });
  return { files };
}

/** Sets a KV record unless a newer one (by `ts`) is there: a late finisher never turns it back. */
async function putIfNewer(kv: KV, key: string, ts: string, value: Record<string, unknown>): Promise<void> {
  const cur = await kv.get(key);
  let prev = '';
  try {
    prev = cur ? ((JSON.parse(cur) as { ts?: string }).ts ?? '') : '';
  } catch {
    // A garbled value is replaced.
  }
  if (prev <= ts) await kv.put(key, JSON.stringify(value));
}
