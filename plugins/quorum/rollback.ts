import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import { readEntry, readLog, type CanonicalRef, type ChangelogEntry, type ProblemSink } from '../../domain/changelog.ts';
import type { RevFile } from '../../domain/staged-rev.ts';
import { restorableRev } from './canonical.ts';
import { appendEntry } from './changelog.ts';
import { QuorumErrorCode as Q, quorumError } from './errors.ts';
import { finishEntry } from './finish.ts';

/** A rollback as its caller asks for it. */
export interface RollbackRequest {
  skill: string;
  ts: string;
  /** `rollback` (the watch), or `manual:<name>`. */
  by: string;
  /**
   * The watch's rollback: the promotion it watched, which must still be canonical and not
   * pinned. Without it (an operator's), whatever is canonical is rolled back, pinned or not.
   */
  watched?: { seq: number; rev: string };
  /** An operator's rollback naming the rev it means: refused when another is canonical by now. */
  expectRev?: string;
  tenants: number;
  runs: number;
  mean: number | null;
  reason?: string;
  evidence?: Record<string, unknown>;
}

export interface RollbackResult {
  /** True for the one caller whose rollback entry was stored. */
  rolledBack: boolean;
  entry: ChangelogEntry | null;
  /** The canonical restored (null: withdrawn). */
  restored: CanonicalRef | null;
  files: string[];
  /** Why nothing was rolled back (already done, pinned, replaced meanwhile). */
  why?: string;
}

/**
 * Rolls a skill's canonical back to what its promotion replaced (or withdraws it when there was
 * nothing), exactly once: the bytes to restore are checked against their manifest first (a
 * rollback that cannot restore exactly is refused, never half done), then a rollback entry is
 * appended to the changelog (the exactly-once point: of overlapping or rerun callers one
 * stores it; the others find it and stop), then its effects follow (finishEntry): canonical,
 * KV `last_quorum_rollback`, the watch closed. The rolled back rev is marked: the quorum never
 * promotes it again until an operator clears the mark.
 */
export async function rollback(blobs: BlobStore, kv: KV, req: RollbackRequest, opts: { problem?: ProblemSink; now?: number } = {}): Promise<RollbackResult> {
  const { skill } = req;
  const log = await readLog(blobs, skill, opts.problem);
  const target = log.canonical;
  if (req.watched && target?.seq !== req.watched.seq) {
    const done = log.rollbacks[String(req.watched.seq)];
    return { rolledBack: false, entry: done ? await readEntry(blobs, log, done) : null, restored: null, files: [], why: done ? `already rolled back (changelog entry ${done})` : 'no longer canonical' };
  }
  if (!target) throw quorumError(Q.NothingCanonical, `${skill} has no canonical page to roll back${log.lastChange?.action === 'rollback' ? ` (withdrawn by changelog entry ${log.lastChange.seq})` : ''}`);
  if (req.expectRev && target.rev_id !== req.expectRev) throw quorumError(Q.NotCanonical, `${skill}:${req.expectRev} is not the canonical page; ${target.rev_id} is (promoted by changelog entry ${target.seq}): nothing rolled back`);
  if (req.watched && log.pins.includes(target.rev_id)) return { rolledBack: false, entry: null, restored: null, files: [], why: 'pinned' };
  const previous = log.promotions[String(target.seq)]?.previous ?? null;
  let files: RevFile[] = [];
  if (previous) {
    const r = await restorableRev(blobs, skill, previous.rev_id);
    if (!r.ok) throw quorumError(Q.CannotRestore, `cannot roll back ${skill}:${target.rev_id}: the previous canonical ${previous.rev_id} cannot be restored byte for byte: ${r.reason}; nothing was done`, { skill, rev: target.rev_id, previous: previous.rev_id });
    files = r.files;
  }
  const out = await appendEntry(
    blobs,
    skill,
    (l) => {
      // Someone else changed canonical meanwhile (another rollback, a promotion): theirs stands.
      if (l.canonical?.seq !== target.seq) return null;
      if (req.watched && l.pins.includes(target.rev_id)) return null;
      return {
        ts: req.ts,
        skill,
        rev_id: target.rev_id,
        action: 'rollback',
        by: req.by,
        tenants: req.tenants,
        runs: req.runs,
        mean: req.mean,
        rolled_back: target.seq,
        restored: l.promotions[String(target.seq)]?.previous ?? null,
        ...(req.reason ? { reason: req.reason } : {}),
        ...(req.evidence ? { evidence: req.evidence } : {}),
      };
    },
    opts.problem,
  );
  if (!out.appended || !out.entry) {
    const done = out.log.rollbacks[String(target.seq)];
    if (!req.watched && !done) throw quorumError(Q.NotCanonical, `${skill}: its canonical changed while rolling back (now ${out.log.canonical?.rev_id ?? 'none'}); nothing rolled back`);
    return { rolledBack: false, entry: done ? await readEntry(blobs, out.log, done) : null, restored: null, files: [], why: done ? `already rolled back (changelog entry ${done})` : out.log.pins.includes(target.rev_id) ? 'pinned' : 'no longer canonical' };
  }
  checkpoint('rollback:entry-written');
  const r = await finishEntry(blobs, kv, out.entry, { log: out.log, files, ...(opts.problem ? { problem: opts.problem } : {}), ...(opts.now !== undefined ? { now: opts.now } : {}) });
  return { rolledBack: true, entry: out.entry, restored: out.entry.restored ?? null, files: r.files };
}
