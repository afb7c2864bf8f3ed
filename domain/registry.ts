import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore, KV } from '../core/ports.ts';
import { isPublicKey } from './auth.ts';
import { readJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { isTenantId } from './names.ts';

/** Where a tenant stands in the registry, for counting its runs toward a quorum. */
export type Standing = 'ok' | 'revoked' | 'not admitted';

/**
 * The tenant registry: one object per tenant, `snappy-registry/tenants/<id>.json`, written
 * only by the Worker (or, in direct mode, by the operator), always with a compare-and-swap.
 * Objects in R2 and S3 are strongly consistent, so an admission or a revocation holds for the
 * very next request; a KV value could be served stale for a minute.
 *
 * It holds nothing secret: a tenant is known by the public half of its signing key. The one
 * exception is a tenant admitted before signatures v2, whose HMAC ingest key (`v1Key`) is
 * kept only until the tenant registers its public key or the v1 window closes.
 */
export interface TenantRecord {
  v: 2;
  tenant: string;
  /** Base64url Ed25519 public key (signatures v2). */
  publicKey?: string;
  /** Legacy HMAC ingest key (signatures v1), accepted only inside the v1 window. */
  v1Key?: string;
  admittedAt: string;
  admittedBy: string;
  revokedAt?: string;
  revokedBy?: string;
  /** Set when the operator moved this tenant to a new master key (domain/rotation.ts): its key is refused from then on. */
  rotatedTo?: string;
  rotatedAt?: string;
  rotatedBy?: string;
  /** The ids this tenant had before, oldest first: their runs count as this tenant's. */
  formerIds?: string[];
  /** Set once a revoked tenant's data was removed (domain/tenant-removal.ts). */
  removedAt?: string;
  removedBy?: string;
}

/** A tenant as the operator sees it: no key material beyond the public key. */
export type TenantView = Omit<TenantRecord, 'v1Key'> & { admitted: boolean; signatures: ('v1' | 'v2')[] };

/** One line of the append-only audit record. */
export interface AuditEntry {
  ts: string;
  action: 'admit' | 'revoke' | 'rekey' | 'migrate' | 'rotate' | 'remove';
  tenant: string;
  by: string;
  detail?: string;
}

/** A registry action the caller got wrong: E_REGISTRY (HTTP 400), or E_NOT_FOUND (404) for an unknown tenant. */
export function registryError(message: string, status: 400 | 404): SnappyError {
  return new SnappyError(message, { code: status === 404 ? ErrorCode.NotFound : ErrorCode.Registry, status, step: 'registry' });
}

const NAME = /^[A-Za-z0-9._@+:-]{1,64}$/;

/** True when the tenant's key may act: admitted, not revoked, not rotated away. */
export function isAdmitted(rec: TenantRecord | null | undefined): boolean {
  return !!rec && !rec.revokedAt && !rec.rotatedTo;
}

export function viewOf(rec: TenantRecord): TenantView {
  const { v1Key, ...rest } = rec;
  return { ...rest, admitted: isAdmitted(rec), signatures: [...(v1Key ? (['v1'] as const) : []), ...(rec.publicKey ? (['v2'] as const) : [])] };
}

export async function getTenant(blobs: BlobStore, tenant: string): Promise<TenantRecord | null> {
  if (!isTenantId(tenant)) return null;
  return readJson<TenantRecord>(blobs, Remote.registryTenant(tenant));
}

/** Every tenant ever admitted (revoked ones too), by id. */
export async function listTenants(blobs: BlobStore): Promise<TenantView[]> {
  const out: TenantView[] = [];
  for await (const o of blobs.list(Remote.registryTenantsPrefix)) {
    const id = o.key.slice(Remote.registryTenantsPrefix.length).replace(/\.json$/, '');
    if (!isTenantId(id)) continue;
    const rec = await getTenant(blobs, id).catch(() => null);
    if (rec) out.push(viewOf(rec));
  }
  return out.sort((a, b) => (a.tenant < b.tenant ? -1 : 1));
}

/**
 * Admits a tenant (or admits it again after a revocation, or replaces its key). `key` is the
 * public key `snappy ops key` prints; a 64-hex v1 ingest key is accepted only while the v1
 * window is open (`v1Open`), for fleets that have not upgraded yet.
 */
export async function admitTenant(blobs: BlobStore, tenant: string, key: string, by: string, opts: { now?: number; v1Open?: boolean } = {}): Promise<TenantView> {
  if (!isTenantId(tenant)) throw registryError(`tenant ${JSON.stringify(tenant)}: expected 12 lower-case hex characters (see \`snappy ops key\`)`, 400);
  checkName(by);
  const v1 = /^[0-9a-f]{64}$/.test(key);
  if (!v1 && !isPublicKey(key)) throw registryError('key: expected the 43-character public key `snappy ops key` prints', 400);
  if (v1 && !opts.v1Open) throw registryError('key: that is a v1 ingest key, and signatures v1 are retired on this Worker; run `snappy ops key` with a current snappy and admit the public key it prints', 400);
  const now = new Date(opts.now ?? Date.now()).toISOString();
  const rec = await casTenant(blobs, tenant, (cur) => {
    // Admitting a retired id again would make the fleet count the tenant twice: the new id is the tenant now.
    if (cur?.rotatedTo) throw registryError(`tenant ${tenant} was rotated to tenant ${cur.rotatedTo} at ${cur.rotatedAt}: its key is retired; admit or re-key ${cur.rotatedTo} instead`, 400);
    return {
      v: 2,
      tenant,
      ...(v1 ? { v1Key: key, ...(cur?.publicKey ? { publicKey: cur.publicKey } : {}) } : { publicKey: key }),
      admittedAt: now,
      admittedBy: by,
      ...(cur?.formerIds?.length ? { formerIds: cur.formerIds } : {}),
    };
  });
  await appendAudit(blobs, { ts: now, action: 'admit', tenant, by, detail: v1 ? 'v1 ingest key' : `public key ${key.slice(0, 8)}…` });
  return viewOf(rec);
}

/** Revokes a tenant: refused from the next request on; its runs stop counting in decisions. */
export async function revokeTenant(blobs: BlobStore, tenant: string, by: string, now = Date.now()): Promise<boolean> {
  if (!isTenantId(tenant)) throw registryError(`tenant ${JSON.stringify(tenant)}: expected 12 lower-case hex characters`, 400);
  checkName(by);
  let had = false;
  const ts = new Date(now).toISOString();
  if (!(await blobs.head(Remote.registryTenant(tenant)))) return false;
  await casTenant(blobs, tenant, (cur) => {
    had = !!cur && !cur.revokedAt;
    return had ? { ...cur!, revokedAt: ts, revokedBy: by } : null;
  });
  if (had) await appendAudit(blobs, { ts, action: 'revoke', tenant, by });
  return had;
}

/**
 * Registers a v1 tenant's v2 public key, on the tenant's own v1-signed request (the upgrade
 * path): the v1 key is dropped at once, so nothing secret stays in the registry.
 */
export async function rekeyTenant(blobs: BlobStore, tenant: string, publicKey: string, now = Date.now()): Promise<TenantView> {
  if (!isPublicKey(publicKey)) throw registryError('publicKey: expected 43 characters of base64url', 400);
  const ts = new Date(now).toISOString();
  const rec = await casTenant(blobs, tenant, (cur) => {
    if (!cur || !isAdmitted(cur)) throw registryError(`tenant ${tenant} is not admitted`, 404);
    if (cur.publicKey === publicKey && !cur.v1Key) return null;
    const { v1Key: _gone, ...rest } = cur;
    return { ...rest, publicKey };
  });
  await appendAudit(blobs, { ts, action: 'rekey', tenant, by: `tenant:${tenant}`, detail: `public key ${publicKey.slice(0, 8)}…; v1 key dropped` });
  return viewOf(rec);
}

/**
 * Moves a tenant admitted into KV by an earlier release (`tenant:<id>` holding its v1 ingest
 * key) into the registry, once, and deletes the KV copy. Returns the record, or null when
 * there was nothing to move.
 */
export async function migrateLegacyTenant(blobs: BlobStore, kv: KV, tenant: string): Promise<TenantRecord | null> {
  if (!isTenantId(tenant)) return null;
  const legacyKey = `tenant:${tenant}`;
  const raw = await kv.get(legacyKey);
  if (!raw) return null;
  let old: { ingestKey?: unknown; admittedAt?: unknown; by?: unknown };
  try {
    old = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof old.ingestKey !== 'string' || !/^[0-9a-f]{64}$/.test(old.ingestKey)) return null;
  const admittedAt = typeof old.admittedAt === 'string' ? old.admittedAt : new Date().toISOString();
  const by = typeof old.by === 'string' && NAME.test(old.by) ? old.by : 'operator';
  const v1Key = old.ingestKey;
  let created = false;
  const rec = await casTenant(blobs, tenant, (cur) => {
    if (cur) return null; // the registry already knows it: it wins
    created = true;
    return { v: 2, tenant, v1Key, admittedAt, admittedBy: by };
  });
  if (created) await appendAudit(blobs, { ts: new Date().toISOString(), action: 'migrate', tenant, by: 'worker', detail: 'moved from KV (signatures v1)' });
  await kv.delete(legacyKey);
  return rec;
}

/** The newest audit entries first. */
export async function auditLog(blobs: BlobStore, limit = 200): Promise<AuditEntry[]> {
  const keys: string[] = [];
  for await (const o of blobs.list(Remote.auditPrefix)) keys.push(o.key);
  const out: AuditEntry[] = [];
  for (const k of keys.slice(-limit).reverse()) {
    const e = await readJson<AuditEntry>(blobs, k).catch(() => null);
    if (e) out.push(e);
  }
  return out;
}

export async function appendAudit(blobs: BlobStore, e: AuditEntry): Promise<void> {
  const id = `${e.tenant}-${e.action}-${randomHex(4)}`;
  await blobs.put(Remote.audit(Date.parse(e.ts), id), JSON.stringify(e), { ifAbsent: true, contentType: 'application/json' });
}

/** Read, change, write back with If-Match (create-only when absent); retried on a lost race. */
export async function casTenant(blobs: BlobStore, tenant: string, change: (cur: TenantRecord | null) => TenantRecord | null): Promise<TenantRecord> {
  const key = Remote.registryTenant(tenant);
  for (let i = 0; i < 20; i++) {
    const info = await blobs.head(key);
    const cur = info ? await readJson<TenantRecord>(blobs, key) : null;
    const next = change(cur);
    if (next === null) {
      if (!cur) throw registryError(`tenant ${tenant} is not in the registry`, 404);
      return cur;
    }
    const ok = await blobs.put(key, JSON.stringify(next), info ? { ifMatch: info.etag ?? '', contentType: 'application/json' } : { ifAbsent: true, contentType: 'application/json' });
    if (ok) return next;
    await new Promise((r) => setTimeout(r, Math.random() * 20 * (i + 1)));
  }
  throw new SnappyError(`${blobs.url} ${key}: kept changing under concurrent writers`, { code: ErrorCode.Conflict, status: 409 });
}

export function checkName(by: string): void {
  if (!NAME.test(by)) throw registryError(`operator ${JSON.stringify(by)}: expected 1-64 characters of [A-Za-z0-9._@+:-]`, 400);
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}
