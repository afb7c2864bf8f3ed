import type { BlobStore } from '../core/ports.ts';
import { isPublicKey } from './auth.ts';
import { isTenantId } from './names.ts';
import { appendAudit, casTenant, checkName, getTenant, registryError, viewOf, type Standing, type TenantRecord, type TenantView } from './registry.ts';

/**
 * Key rotation (docs/operate.md "Rotate a key"). The tenant id and the aggregate's run ids
 * derive from the master key, so a new key is a new id. The operator links the two:
 *
 * 1. the old record gets `rotatedTo` (compare-and-swap): from the next request on, the old key
 *    is refused, whoever holds it;
 * 2. the new record is admitted with the new public key and `formerIds` (every id the tenant
 *    had, oldest first).
 *
 * Quorum then counts the runs of every former id as the new id's (one tenant, never two),
 * while tallies, batches and summaries keep the id that made them: history stays attributed.
 * Step 1 comes first, so a rotation cut short leaves the old key refused and the new one not
 * yet admitted (closed, never open); running it again finishes it.
 */
export async function rotateTenant(blobs: BlobStore, from: string, to: string, publicKey: string, by: string, now = Date.now()): Promise<{ from: TenantView; to: TenantView }> {
  if (!isTenantId(from)) throw registryError(`old tenant ${JSON.stringify(from)}: expected 12 lower-case hex characters`, 400);
  if (!isTenantId(to)) throw registryError(`new tenant ${JSON.stringify(to)}: expected 12 lower-case hex characters (snappy ops key, run with the new key)`, 400);
  if (from === to) throw registryError(`old and new tenant are both ${from}: a new master key has a new tenant id (snappy ops key, run with the new key)`, 400);
  if (!isPublicKey(publicKey)) throw registryError('public key: expected the 43-character public key `snappy ops key` prints with the new key', 400);
  checkName(by);
  const ts = new Date(now).toISOString();
  const target = await getTenant(blobs, to);
  if (target?.rotatedTo) throw registryError(`new tenant ${to} was itself rotated to ${target.rotatedTo}: rotate to a key that is in use`, 400);
  if (target?.revokedAt) throw registryError(`new tenant ${to} was revoked at ${target.revokedAt}: a revoked id cannot take over another tenant`, 400);
  if (target && target.publicKey && target.publicKey !== publicKey) throw registryError(`new tenant ${to} is admitted with another public key: check the key (snappy ops key with the new master key)`, 400);
  let fresh = false;
  const old = await casTenant(blobs, from, (cur) => {
    if (!cur) throw registryError(`tenant ${from} is not in the registry: there is nothing to rotate (admit ${to} instead)`, 404);
    if (cur.revokedAt) throw registryError(`tenant ${from} was revoked at ${cur.revokedAt}: a revoked tenant is not rotated; admit the new key as a new tenant`, 400);
    if (cur.rotatedTo === to) return null;
    if (cur.rotatedTo) throw registryError(`tenant ${from} was already rotated to ${cur.rotatedTo} at ${cur.rotatedAt}; rotate ${cur.rotatedTo} instead`, 400);
    fresh = true;
    return { ...cur, rotatedTo: to, rotatedAt: ts, rotatedBy: by };
  });
  const formerIds = [...(old.formerIds ?? []), from];
  const rec = await casTenant(blobs, to, (cur) => {
    const mergedFormer = [...new Set([...(cur?.formerIds ?? []), ...formerIds])].filter((t) => t !== to);
    if (cur && cur.publicKey === publicKey && !cur.revokedAt && !cur.rotatedTo && sameList(cur.formerIds, mergedFormer)) return null;
    const next: TenantRecord = { v: 2, tenant: to, publicKey, admittedAt: cur?.admittedAt ?? ts, admittedBy: cur?.admittedBy ?? by, formerIds: mergedFormer };
    return next;
  });
  if (fresh) await appendAudit(blobs, { ts, action: 'rotate', tenant: from, by, detail: `to ${to} (public key ${publicKey.slice(0, 8)}…); ${from}'s key is refused from now on, its runs count as ${to}'s` });
  return { from: viewOf(old), to: viewOf(rec) };
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return (a ?? []).length === b.length && (a ?? []).every((x, i) => x === b[i]);
}

/** Who a tenant id is now, for counting its runs: its current id and its standing. */
export interface TenantIdentity {
  /** The id at the end of its rotations (itself when never rotated). */
  id: string;
  /** `revoked` when the id itself or its current id is revoked; `not admitted` when the registry does not know it. */
  standing: Standing;
}

/** Registry records read during one tick (or one listing), by tenant id. */
export type RecordCache = Map<string, TenantRecord | null>;

async function cachedRecord(blobs: BlobStore, tenant: string, cache: RecordCache): Promise<TenantRecord | null> {
  if (cache.has(tenant)) return cache.get(tenant)!;
  const rec = await getTenant(blobs, tenant).catch(() => null);
  cache.set(tenant, rec);
  return rec;
}

/**
 * The identity of each tenant id: rotations followed to the current id (at most 32 hops; a
 * link to an id the registry does not hold yet, a rotation cut short, stops where it is).
 * Revoking an old id after a rotation excludes that id's runs only; revoking the current id
 * excludes every id the tenant ever had.
 */
export async function identitiesOf(blobs: BlobStore, tenants: Iterable<string>, cache: RecordCache = new Map()): Promise<Map<string, TenantIdentity>> {
  const out = new Map<string, TenantIdentity>();
  for (const t of tenants) {
    const rec = await cachedRecord(blobs, t, cache);
    if (!rec) {
      out.set(t, { id: t, standing: 'not admitted' });
      continue;
    }
    let cur = rec;
    const seen = new Set([t]);
    for (let hops = 0; cur.rotatedTo && hops < 32 && !seen.has(cur.rotatedTo); hops++) {
      const next = await cachedRecord(blobs, cur.rotatedTo, cache);
      if (!next) break;
      seen.add(next.tenant);
      cur = next;
    }
    out.set(t, { id: cur.tenant, standing: rec.revokedAt || cur.revokedAt ? 'revoked' : 'ok' });
  }
  return out;
}

/** The ids whose rows a tenant may ship as its own: itself and its former ids. */
export async function shippableIds(blobs: BlobStore, tenant: string, cache: RecordCache = new Map()): Promise<ReadonlySet<string>> {
  const rec = await cachedRecord(blobs, tenant, cache);
  return new Set([tenant, ...(rec?.formerIds ?? [])]);
}

/**
 * Runs per tenant with every id's runs under its current id, as quorum counts them; an id
 * excluded by its standing (in Worker mode: revoked, never admitted) keeps its own entry, so
 * it shows as excluded. Runs are keyed by run id, so merging two ids never double-counts.
 */
export function mergeByIdentity(tenants: Record<string, Record<string, number>>, ids: ReadonlyMap<string, TenantIdentity>, admittedOnly: boolean): { tenants: Record<string, Record<string, number>>; standing: Map<string, Standing> } {
  const merged: Record<string, Record<string, number>> = {};
  const standing = new Map<string, Standing>();
  for (const [t, runs] of Object.entries(tenants)) {
    const ident = ids.get(t) ?? { id: t, standing: 'not admitted' as Standing };
    const counts = !admittedOnly || ident.standing === 'ok';
    // Direct mode counts tenants the registry does not know; it still follows their rotations.
    const key = counts ? (ident.standing === 'not admitted' ? t : ident.id) : t;
    const into = (merged[key] ??= {});
    for (const [run, score] of Object.entries(runs)) if (!(run in into)) into[run] = score;
    if (!standing.has(key) || !counts) standing.set(key, counts ? 'ok' : ident.standing);
  }
  return { tenants: merged, standing };
}
