import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import { doneKey, promotionOf, type ChangelogEntry } from '../../domain/changelog.ts';
import { Remote } from '../../domain/layout.ts';
import type { Problem } from './scan.ts';
import { appendEntry } from './changelog.ts';
import { QuorumErrorCode, quorumError } from './errors.ts';
import { finishEntry } from './finish.ts';
import { quarantineRev, verifyStagedRev, type Quarantine } from './verify.ts';

export { KvKeys } from './kv-keys.ts';

/** The changelog entry of a promotion (and of every other change: rollback, clear, pin, unpin). */
export type ChangelogRow = ChangelogEntry;

/** A promotion as its caller asks for it: the numbers of its evidence and who decided. */
export interface PromotionRequest {
  ts: string;
  skill: string;
  rev_id: string;
  /** `quorum`, or `manual:<name>` for an operator's approval. */
  by: string;
  tenants: number;
  runs: number;
  mean: number | null;
}

export interface PromoteResult {
  /** True for the one caller whose changelog entry was stored; false when the rev was already promoted, or not promoted. */
  promoted: boolean;
  row: ChangelogRow;
  /** Files now in the canonical folder. */
  files: string[];
  /** Set when the rev's bytes no longer match what was endorsed: it was quarantined instead. */
  quarantined?: Quarantine;
  /** Set when a file of the rev's manifest is not staged (yet): nothing was done. */
  incomplete?: string;
}

/** Where a promotion reports what it skipped, and how it is watched. */
export interface PromoteOptions {
  problem?: (p: Problem) => void;
  /** Open the post-promotion watch with this grace (null: not watched). */
  watch?: { graceMs: number } | null;
  /** Pin the rev as it is promoted (no automatic rollback). */
  pinned?: boolean;
  now?: number;
}

/**
 * Promotes a staged rev. Its files are first checked against the rev's frozen manifest: bytes
 * changed since staging quarantine the rev instead (never promoted, reported). Then a promote
 * entry is appended to the skill's changelog: that create-only write is the exactly-once point
 * (of any number of overlapping or rerun callers, one stores it). The quorum promotes a rev
 * only if it was never promoted, or was rolled back and an operator cleared the mark since; an
 * operator's approval also promotes a rev promoted before and replaced, but refuses a rev
 * still marked by a rollback. The copy of exactly the verified bytes, the KV updates and the
 * done marker follow (finishEntry) and are idempotent, so the next tick after a kill finishes
 * them without a second entry.
 */
export async function promote(blobs: BlobStore, kv: KV, req: PromotionRequest, opts: PromoteOptions = {}): Promise<PromoteResult> {
  const { skill, rev_id: rev } = req;
  const v = await verifyStagedRev(blobs, skill, rev);
  const stub = { ...req, seq: 0, action: 'promote' as const };
  if (!v.ok) {
    if (v.incomplete) return { promoted: false, row: stub, files: [], incomplete: v.reason };
    return { promoted: false, row: stub, files: [], quarantined: await quarantineRev(blobs, skill, rev, v.reason, opts.now) };
  }
  const manual = req.by.startsWith('manual:');
  const out = await appendEntry(
    blobs,
    skill,
    (log) => {
      const h = log.revs[rev];
      if (h === 'rolled-back' && manual) throw quorumError(QuorumErrorCode.RolledBack, `${skill}:${rev} was rolled back (changelog entry ${Object.entries(log.rollbacks).find(([p]) => log.promotions[p]?.rev_id === rev)?.[1] ?? '?'}); clear the mark first (snappy ops clear ${skill} ${rev}), then approve it`);
      if (h === 'promoted' && (!manual || log.canonical?.rev_id === rev)) return null;
      if (h === 'rolled-back') return null;
      // An expired rev waits for an operator: a revive reopens it to the quorum, an approval promotes it.
      if (h === 'expired' && !manual) return null;
      return { ts: req.ts, skill, rev_id: rev, action: 'promote', by: req.by, tenants: req.tenants, runs: req.runs, mean: req.mean, previous: log.canonical, ...(opts.pinned ? { pinned: true } : {}) };
    },
    opts.problem,
  );
  if (out.appended) checkpoint('promote:changelog-written');
  const entry = out.entry ?? (await promotionOf(blobs, out.log, rev));
  if (!entry) return { promoted: false, row: stub, files: [] };
  // Already promoted and finished: nothing to do again.
  if (!out.appended && (await blobs.head(doneKey(entry, out.log)))) return { promoted: false, row: entry, files: [] };
  const r = await finishEntry(blobs, kv, entry, { ...(opts.problem ? { problem: opts.problem } : {}), log: out.log, files: v.files, watch: opts.watch ?? null, ...(opts.now !== undefined ? { now: opts.now } : {}) });
  return { promoted: out.appended, row: entry, files: r.files, ...(r.quarantined ? { quarantined: r.quarantined } : {}) };
}

/** Files of a staged rev, relative to its folder. */
export async function stagedFiles(blobs: BlobStore, skill: string, rev: string): Promise<string[]> {
  const dir = Remote.stagedDir(skill, rev);
  const out: string[] = [];
  for await (const o of blobs.list(dir)) out.push(o.key.slice(dir.length));
  return out;
}
