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
