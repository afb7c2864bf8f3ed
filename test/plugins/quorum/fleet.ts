import { createHmac, createHash } from 'node:crypto';
import { FileBlobStore } from '../../../adapters/file-blob-store.ts';
import type { BlobStore } from '../../../core/ports.ts';
import { formatAggRow, type AggRow } from '../../../domain/agg-row.ts';
import { revIdOf, tenantIdOf } from '../../../domain/hash.ts';
import { batchIdOf } from '../../../domain/ingest-protocol.ts';
import { Remote } from '../../../domain/layout.ts';

/** A test tenant: master key, id, and a counter for opaque run ids. */
export interface Tenant {
  masterKey: string;
  id: string;
}

export async function tenant(name: string): Promise<Tenant> {
  const masterKey = `master-key-of-${name}`;
  return { masterKey, id: await tenantIdOf(masterKey) };
}

/** An aggregate row of `t` for `skillRef` (`skill` or `skill:rev`), run ids hashed like the aggregate plugin does. */
export function row(t: Tenant, skillRef: string, score: number, run: string): AggRow {
  return { _v: 1, ts: '2026-01-01T00:00:00.000Z', skill: skillRef, score, run_id: createHmac('sha256', t.masterKey).update(run).digest('hex').slice(0, 16), tenant: t.id, ok: true };
}

export const ndjson = (rows: AggRow[]): string => rows.map((r) => `${formatAggRow(r)}\n`).join('');

/** Writes a batch straight into the bucket (direct mode: no Worker). */
export async function writeBatch(blobs: BlobStore, t: Tenant, rows: AggRow[]): Promise<string> {
  const body = ndjson(rows);
  const key = Remote.aggregateBatch(t.id, await batchIdOf(body));
  await blobs.put(key, body, { ifAbsent: true });
  return key;
}

/** Stages a rev of `skill` with `page` (and extra files); returns its rev id. */
export async function stageRev(blobs: BlobStore, skill: string, page: string, extra: Record<string, string> = {}): Promise<string> {
  const rev = await revIdOf(page);
  await blobs.put(Remote.staged(skill, rev), page, { ifAbsent: true });
  for (const [f, body] of Object.entries(extra)) await blobs.put(Remote.staged(skill, rev, f), body, { ifAbsent: true });
  return rev;
}

export const fileRemote = (dir: string): FileBlobStore => new FileBlobStore(dir);

export const text = async (blobs: BlobStore, key: string): Promise<string | null> => {
  const b = await blobs.get(key);
  return b ? new TextDecoder().decode(b) : null;
};

export async function listKeys(blobs: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list(prefix)) out.push(o.key);
  return out;
}

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The changelog entries of `skill` as stored (`snappy-os/changelog/<skill>/<seq>.json`), in sequence order, raw text. */
export async function entryTexts(blobs: BlobStore, skill: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of await listKeys(blobs, `${Remote.changelogPrefix}${skill}/`)) if (/\/\d{8}\.json$/.test(k)) out.push((await text(blobs, k))!);
  return out;
}

/** The changelog entries of `skill`, parsed, in sequence order. */
export async function entries(blobs: BlobStore, skill: string): Promise<Record<string, any>[]> {
  return (await entryTexts(blobs, skill)).map((t) => JSON.parse(t));
}

/** The stored text of the (first) promote entry of `rev`, or null when it was never promoted. */
export async function promotionText(blobs: BlobStore, skill: string, rev: string): Promise<string | null> {
  return (await entryTexts(blobs, skill)).find((t) => JSON.parse(t).action === 'promote' && JSON.parse(t).rev_id === rev) ?? null;
}

/** The done marker of the (first) promote entry of `rev` is there: its promotion finished. */
export async function promotionDone(blobs: BlobStore, skill: string, rev: string): Promise<boolean> {
  const t = await promotionText(blobs, skill, rev);
  if (!t) return false;
  return !!(await blobs.head(Remote.entryDone(skill, JSON.parse(t).seq, 'promote', rev)));
}
