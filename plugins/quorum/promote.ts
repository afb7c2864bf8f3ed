import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { readJson } from './json-store.ts';

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
  tenant: (tenant: string) => `tenant:${tenant}`,
  tenantPrefix: 'tenant:',
} as const;

export interface PromoteResult {
  /** True for the one caller whose changelog row was stored; false when the rev was already promoted. */
  promoted: boolean;
  row: ChangelogRow;
  /** Files now in the canonical folder. */
  files: string[];
}

/**
 * Promotes a staged rev. The create-only changelog row is written FIRST: it is the
 * exactly-once point (of any number of overlapping or rerun callers, one stores it). The
 * copy, the KV updates and the `done` marker follow and are idempotent, so any caller,
 * including the next tick after a kill, can finish them without a second row.
 */
export async function promote(blobs: BlobStore, kv: KV, row: ChangelogRow): Promise<PromoteResult> {
  const staged = await stagedFiles(blobs, row.skill, row.rev_id);
  if (!staged.length) throw new Error(`cannot promote ${row.skill}:${row.rev_id}: nothing staged at ${Remote.stagedDir(row.skill, row.rev_id)}`);
  const promoted = await blobs.put(Remote.changelog(row.skill, row.rev_id), `${JSON.stringify(row)}\n`, { ifAbsent: true, contentType: 'application/json' });
  checkpoint('promote:changelog-written');
  const stored = promoted ? row : ((await readJson<ChangelogRow>(blobs, Remote.changelog(row.skill, row.rev_id))) ?? row);
  const files = await complete(blobs, kv, stored);
  return { promoted, row: stored, files };
}

/**
 * Finishes a promotion whose changelog row exists: makes the canonical folder exactly the
 * rev's folder, invalidates the KV cache, sets last_quorum_promotion, marks it done. Skips the
 * copy when a later promotion of the same skill exists (that one owns the folder now).
 */
export async function complete(blobs: BlobStore, kv: KV, row: ChangelogRow): Promise<string[]> {
  const { skill, rev_id: rev } = row;
  const latest = await latestPromotion(blobs, skill);
  let files: string[] = [];
  if (!latest || latest.rev_id === rev) {
    const stagedDir = Remote.stagedDir(skill, rev);
    const canonDir = Remote.canonicalDir(skill);
    const staged = await stagedFiles(blobs, skill, rev);
    for (const f of staged) {
      await blobs.copy(stagedDir + f, canonDir + f);
      checkpoint('promote:file-copied');
    }
    const keep = new Set(staged);
    for await (const o of blobs.list(canonDir)) if (!keep.has(o.key.slice(canonDir.length))) await blobs.delete(o.key);
    files = staged;
  }
  checkpoint('promote:canonical-replaced');
  await kv.delete(KvKeys.canonical(skill));
  const last = await kv.get(KvKeys.lastPromotion);
  const prevTs = last ? (JSON.parse(last) as { ts?: string }).ts ?? '' : '';
  if (prevTs <= row.ts) {
    await kv.put(KvKeys.lastPromotion, JSON.stringify({ ts: row.ts, skill, rev_id: rev, tenants: row.tenants, runs: row.runs }));
  }
  checkpoint('promote:kv-updated');
  await blobs.put(Remote.promotionDone(skill, rev), JSON.stringify({ ts: row.ts, completed: new Date().toISOString() }), { ifAbsent: true, contentType: 'application/json' });
  return files;
}

/** Files of a staged rev, relative to its folder. */
export async function stagedFiles(blobs: BlobStore, skill: string, rev: string): Promise<string[]> {
  const dir = Remote.stagedDir(skill, rev);
  const out: string[] = [];
  for await (const o of blobs.list(dir)) out.push(o.key.slice(dir.length));
  return out;
}

/** Every changelog row of a skill, oldest first. */
export async function changelogOf(blobs: BlobStore, skill: string): Promise<ChangelogRow[]> {
  const rows: ChangelogRow[] = [];
  for await (const o of blobs.list(`${Remote.changelogPrefix}${skill}/`)) {
    const r = await readJson<ChangelogRow>(blobs, o.key);
    if (r) rows.push(r);
  }
  return rows.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.rev_id < b.rev_id ? -1 : 1));
}

async function latestPromotion(blobs: BlobStore, skill: string): Promise<ChangelogRow | undefined> {
  const rows = await changelogOf(blobs, skill);
  return rows[rows.length - 1];
}
