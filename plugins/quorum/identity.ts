import type { BlobStore } from '../../core/ports.ts';
import type { Standing } from '../../domain/registry.ts';
import { identitiesOf, mergeByIdentity, shippableIds, type RecordCache } from '../../domain/rotation.ts';
import type { Tally } from './tally.ts';
import type { Watch, WatchTenant } from './watch.ts';

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

/**
 * A watch as its objections are judged after key rotations: the entries of a tenant's former
 * ids merged under its current id (runs summed, the earliest adoption and cutoff; rows of an id
 * that waited for its own adoption count from the merged cutoff), so one tenant never objects
 * twice. `members`: the ids each merged entry holds, whose baselines are pooled. Standings as
 * `countedTally` has them: an id whose standing excludes it keeps its own entry.
 */
export async function linkedWatch(blobs: BlobStore, w: Watch, cache: RecordCache): Promise<{ watch: Watch; standing: Map<string, Standing>; members: Map<string, string[]> }> {
  const ids = await identitiesOf(blobs, Object.keys(w.tenants), cache);
  const tenants: Record<string, WatchTenant> = {};
  const standing = new Map<string, Standing>();
  const members = new Map<string, string[]>();
  const pending = new Map<string, [number, number][]>();
  for (const [t, wt] of Object.entries(w.tenants)) {
    const ident = ids.get(t) ?? { id: t, standing: 'not admitted' as Standing };
    // Not admitted counts in direct mode as itself; revoked never merges into the tenant's current id.
    const key = ident.standing === 'ok' ? ident.id : t;
    standing.set(key, ident.standing);
    members.set(key, [...(members.get(key) ?? []), t]);
    const into = tenants[key];
    if (!into) {
      tenants[key] = { ...wt, ...(wt.pending ? { pending: [...wt.pending] } : {}) };
      continue;
    }
    into.n += wt.n;
    into.sum += wt.sum;
    into.sq += wt.sq;
    if (wt.adopted !== undefined && (into.adopted === undefined || wt.adopted < into.adopted)) {
      into.adopted = wt.adopted;
      if (wt.via) into.via = wt.via;
    }
    if (wt.cutoff !== undefined) into.cutoff = into.cutoff === undefined ? wt.cutoff : Math.min(into.cutoff, wt.cutoff);
    if (wt.pending?.length) pending.set(key, [...(pending.get(key) ?? []), ...wt.pending]);
  }
  for (const [key, rows] of pending) {
    const into = tenants[key]!;
    if (into.cutoff === undefined) {
      into.pending = [...(into.pending ?? []), ...rows];
      continue;
    }
    for (const [off, score] of rows) {
      if (w.promotedAt + off < into.cutoff) continue;
      into.n++;
      into.sum += score;
      into.sq += score * score;
    }
  }
  return { watch: { ...w, tenants }, standing, members };
}
