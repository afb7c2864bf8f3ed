import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import { appendFeed } from '../../domain/feed.ts';
import { Remote } from '../../domain/layout.ts';
import type { RevFile } from '../../domain/staged-rev.ts';
import { isMalformed, readJson } from '../../domain/json-store.ts';
import type { Problem } from './scan.ts';
import { quarantineRev, verifyStagedRev, type Quarantine } from './verify.ts';
import { QuorumErrorCode, quorumError } from './errors.ts';

/** One changelog row: the record of one promotion, stored create-only at Remote.changelog(skill, rev). */
export interface ChangelogRow {
  ts: string;
  skill: string;
  rev_id: string;
  /** `quorum`, or `manual:<name>` for an operator's approval. */
  by: string;
  tenants: number;
  runs: number;
  mean: number | null;
}

/** KV keys the quorum plugin owns. */
export const KvKeys = {
  lastPromotion: 'last_quorum_promotion',
  canonical: (skill: string) => `canonical:${skill}`,
} as const;

export interface PromoteResult {
  /** True for the one caller whose changelog row was stored; false when the rev was already promoted, or not promoted. */
  promoted: boolean;
  row: ChangelogRow;
  /** Files now in the canonical folder. */
  files: string[];
  /** Set when the rev's bytes no longer match what was endorsed: it was quarantined instead. */
  quarantined?: Quarantine;
  /** Set when a file of the rev's manifest is not staged (yet): nothing was done. */
  incomplete?: string;
}

/** Where a promotion reports what it skipped (malformed changelog rows of the skill). */
export interface PromoteOptions {
  problem?: (p: Problem) => void;
}

/**
 * Promotes a staged rev. Its files are first checked against the rev's frozen manifest: bytes
 * changed since staging quarantine the rev instead (never promoted, reported). Then the
 * create-only changelog row is written: it is the exactly-once point (of any number of
 * overlapping or rerun callers, one stores it). The copy of exactly the verified bytes, the KV
 * updates and the `done` marker follow and are idempotent, so any caller, including the next
 * tick after a kill, can finish them without a second row.
 */
export async function promote(blobs: BlobStore, kv: KV, row: ChangelogRow, opts: PromoteOptions = {}): Promise<PromoteResult> {
  const v = await verifyStagedRev(blobs, row.skill, row.rev_id);
  if (!v.ok) {
    if (v.incomplete) return { promoted: false, row, files: [], incomplete: v.reason };
    return { promoted: false, row, files: [], quarantined: await quarantineRev(blobs, row.skill, row.rev_id, v.reason) };
  }
  const promoted = await blobs.put(Remote.changelog(row.skill, row.rev_id), `${JSON.stringify(row)}\n`, { ifAbsent: true, contentType: 'application/json' });
  checkpoint('promote:changelog-written');
  let stored = row;
  if (!promoted) {
    try {
      stored = (await readJson<ChangelogRow>(blobs, Remote.changelog(row.skill, row.rev_id))) ?? row;
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem?.({ key: Remote.changelog(row.skill, row.rev_id), reason: (err as Error).message });
    }
  }
  const r = await complete(blobs, kv, stored, { ...opts, verified: v.files });
  return { promoted, row: stored, files: r.files, ...(r.quarantined ? { quarantined: r.quarantined } : {}) };
}

/**
 * Finishes a promotion whose changelog row exists: makes the canonical folder exactly the
 * rev's verified files, invalidates the KV cache, sets last_quorum_promotion, marks it done.
 * Skips the copy when a later promotion of the same skill exists (that one owns the folder
 * now). A rerun after a kill verifies the staged bytes again: if they changed in between, the
 * rev is quarantined and canonical is left as it was.
 */
export async function complete(blobs: BlobStore, kv: KV, row: ChangelogRow, opts: PromoteOptions & { verified?: RevFile[] } = {}): Promise<{ files: string[]; quarantined?: Quarantine }> {
  const { skill, rev_id: rev } = row;
  const latest = await latestPromotion(blobs, skill, opts.problem);
  let files: string[] = [];
  if (!latest || latest.rev_id === rev) {
    let verified = opts.verified;
    if (!verified) {
      const v = await verifyStagedRev(blobs, skill, rev);
      if (!v.ok) {
        if (v.incomplete) throw quorumError(QuorumErrorCode.Incomplete, `cannot finish the promotion of ${skill}:${rev}: ${v.reason}`);
        return { files: [], quarantined: await quarantineRev(blobs, skill, rev, `promoted (changelog row written), but before its files were copied: ${v.reason}`) };
      }
      verified = v.files;
    }
    const canonDir = Remote.canonicalDir(skill);
    // The verified bytes themselves, not a copy of whatever the staged keys hold by now.
    for (const f of verified) {
      await blobs.put(canonDir + f.name, f.bytes);
      checkpoint('promote:file-copied');
    }
    const keep = new Set(verified.map((f) => f.name));
    for await (const o of blobs.list(canonDir)) if (!keep.has(o.key.slice(canonDir.length))) await blobs.delete(o.key);
    files = verified.map((f) => f.name);
    // Tenants pulling through the Worker learn of the new folder from its change feed.
    await appendFeed(blobs, { kind: 'canonical', folder: canonDir });
  }
  checkpoint('promote:canonical-replaced');
  await kv.delete(KvKeys.canonical(skill));
  const last = await kv.get(KvKeys.lastPromotion);
  let prevTs = '';
  try {
    prevTs = last ? ((JSON.parse(last) as { ts?: string }).ts ?? '') : '';
  } catch {
    // A garbled KV value is replaced by this promotion's.
  }
  if (prevTs <= row.ts) {
    await kv.put(KvKeys.lastPromotion, JSON.stringify({ ts: row.ts, skill, rev_id: rev, tenants: row.tenants, runs: row.runs }));
  }
  checkpoint('promote:kv-updated');
  await blobs.put(Remote.promotionDone(skill, rev), JSON.stringify({ ts: row.ts, completed: new Date().toISOString() }), { ifAbsent: true, contentType: 'application/json' });
  return { files };
}

/** Files of a staged rev, relative to its folder. */
export async function stagedFiles(blobs: BlobStore, skill: string, rev: string): Promise<string[]> {
  const dir = Remote.stagedDir(skill, rev);
  const out: string[] = [];
  for await (const o of blobs.list(dir)) out.push(o.key.slice(dir.length));
  return out;
}

/** Every readable changelog row of a skill, oldest first; a malformed one is reported and skipped. */
export async function changelogOf(blobs: BlobStore, skill: string, problem?: (p: Problem) => void): Promise<ChangelogRow[]> {
  const rows: ChangelogRow[] = [];
  for await (const o of blobs.list(`${Remote.changelogPrefix}${skill}/`)) {
    try {
      const r = await readJson<ChangelogRow>(blobs, o.key, isChangelogRow);
      if (r) rows.push(r);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      problem?.({ key: o.key, reason: (err as Error).message });
    }
  }
  return rows.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.rev_id < b.rev_id ? -1 : 1));
}

export function isChangelogRow(v: unknown): boolean {
  const r = v as ChangelogRow;
  return !!r && typeof r.ts === 'string' && typeof r.skill === 'string' && typeof r.rev_id === 'string' && typeof r.by === 'string';
}

async function latestPromotion(blobs: BlobStore, skill: string, problem?: (p: Problem) => void): Promise<ChangelogRow | undefined> {
  const rows = await changelogOf(blobs, skill, problem);
  return rows[rows.length - 1];
}
