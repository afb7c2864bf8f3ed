import type { BlobStore } from '../../core/ports.ts';
import type { Standing } from '../../domain/registry.ts';
import { identitiesOf, mergeByIdentity, shippableIds, type RecordCache } from '../../domain/rotation.ts';
import type { Tally } from './tally.ts';

export type { RecordCache };

/** A cache of registry records for one tick or one listing of revs. */
export const recordCache = (): RecordCache => new Map();

/**
 * A rev's tally as the rule counts it (docs/operate.md "Rotate a key"): the runs of a tenant's
 * former ids (key rotations) under its current id, so one tenant is never two; with
 * `admittedOnly` (Worker mode), each id's standing too. The stored tally is left as it is.
 */
export async function countedTally(blobs: BlobStore, tally: Tally, admittedOnly: boolean, cache: RecordCache): Promise<{ tally: Tally; standing?: Map<string, Standing> }> {
  const ids = await identitiesOf(blobs, Object.keys(tally.tenants), cache);
  const m = mergeByIdentity(tally.tenants, ids, admittedOnly);
  return { tally: { ...tally, tenants: m.tenants }, ...(admittedOnly ? { standing: m.standing } : {}) };
}

/** For the scan: the tenants whose rows a batch in `tenant`'s folder may carry (itself and its former ids). */
export function shippableLookup(blobs: BlobStore, cache: RecordCache): (tenant: string) => Promise<ReadonlySet<string>> {
  const memo = new Map<string, Promise<ReadonlySet<string>>>();
  return (tenant) => {
    let p = memo.get(tenant);
    if (!p) memo.set(tenant, (p = shippableIds(blobs, tenant, cache).catch(() => new Set([tenant]))));
    return p;
  };
}
