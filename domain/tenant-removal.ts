import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';
import { readJson, updateJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { isTenantId } from './names.ts';
import { appendAudit, casTenant, checkName, getTenant } from './registry.ts';

/** Objects one call deletes at most: a Worker request's share of subrequests. The caller calls again until `done`. */
export const REMOVE_BATCH = 300;

/** What one call of `removeTenant` deleted, and whether the tenant is gone. */
export interface Removal {
  tenant: string;
  batches: number;
  indexEntries: number;
  pages: number;
  briefs: number;
  seen: boolean;
  /** True once nothing of the tenant's is left to delete (the registry record stays, revoked and marked removed). */
  done: boolean;
}

/** The tenants removed so far, by id, with when. */
export interface RemovedTenants {
  v: 1;
  tenants: Record<string, string>;
}

/** Ids of the removed tenants (empty when none was ever removed). */
export async function removedTenants(blobs: BlobStore): Promise<string[]> {
  const r = await readJson<RemovedTenants>(blobs, Remote.registryRemoved).catch(() => null);
  return Object.keys(r?.tenants ?? {}).filter(isTenantId).sort();
}

/**
 * Removes the data of a tenant that left: its aggregate batches with their index entries and
 * meta records, its pages, files and page histories, its briefs and its seen record. Only a
 * revoked tenant (nothing it sends is accepted any more, so nothing comes back behind the
 * removal). It is named in `snappy-registry/removed.json` first, so its rows already in
 * segments are filtered from every pull from then on and machines drop them; then the objects
 * go, at most `max` per call, each batch's index entry before the batch and the meta record
 * last (the meta is how a later call finds the entry again): a call stopped anywhere is taken
 * up by the next. The per-rev tallies and daily summaries stay: decisions already made used them.
 */
export async function removeTenant(blobs: BlobStore, tenant: string, by: string, opts: { now?: number; max?: number } = {}): Promise<Removal> {
  if (!isTenantId(tenant)) throw new SnappyError(`tenant ${JSON.stringify(tenant)}: expected 12 lower-case hex characters`, { code: ErrorCode.Usage, status: 400 });
  checkName(by);
  const rec = await getTenant(blobs, tenant);
  if (!rec) throw new SnappyError(`tenant ${tenant} is not in the registry: nothing to remove`, { code: ErrorCode.Usage, status: 404 });
  if (!rec.revokedAt) throw new SnappyError(`tenant ${tenant} is not revoked: revoke it first (snappy ops tenants revoke ${tenant}), then remove it`, { code: ErrorCode.Usage, status: 409 });
  const now = new Date(opts.now ?? Date.now()).toISOString();
  const max = opts.max ?? REMOVE_BATCH;
  await updateJson<RemovedTenants>(blobs, Remote.registryRemoved, () => ({ v: 1, tenants: {} }), (cur) => (cur.tenants[tenant] ? null : { v: 1, tenants: { ...cur.tenants, [tenant]: now } }));
  const r: Removal = { tenant, batches: 0, indexEntries: 0, pages: 0, briefs: 0, seen: false, done: false };
  let left = max;
  const del = async (key: string) => {
    await blobs.delete(key);
    left--;
  };
  for await (const o of blobs.list(`snappy-agg-meta/${tenant}/`)) {
    if (left <= 2) return r;
    const meta = await readJson<{ index?: string }>(blobs, o.key).catch(() => null);
    if (meta?.index?.startsWith(Remote.aggregateIndexPrefix)) {
      await del(meta.index);
      r.indexEntries++;
    }
    const batch = o.key.slice('snappy-agg-meta/'.length).replace(/\.json$/, '');
    const [, id] = batch.split('/');
    if (id) {
      await del(Remote.aggregateBatch(tenant, id));
      r.batches++;
    }
    await del(o.key);
  }
  // Batches with no meta record: written straight into the bucket (direct mode), never indexed.
  for (const prefix of [`${Remote.aggregatePrefix}${tenant}/`, `snappy-tenants/${tenant}/`, Remote.tenantBriefsPrefix(tenant)]) {
    for await (const o of blobs.list(prefix)) {
      if (left <= 0) return r;
      await del(o.key);
      if (prefix.startsWith(Remote.aggregatePrefix)) r.batches++;
      else if (prefix.startsWith(Remote.briefsPrefix)) r.briefs++;
      else r.pages++;
    }
  }
  if (await blobs.head(Remote.seen(tenant))) {
    await del(Remote.seen(tenant));
    r.seen = true;
  }
  if (!rec.removedAt) {
    await casTenant(blobs, tenant, (cur) => (cur && !cur.removedAt ? { ...cur, removedAt: now, removedBy: by } : null));
    await appendAudit(blobs, { ts: now, action: 'remove', tenant, by });
  }
  r.done = true;
  return r;
}
