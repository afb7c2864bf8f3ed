import type { BlobStore } from '../../core/ports.ts';
import { checkAggLine, type AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { isTenantId } from '../../domain/names.ts';
import { readJson, updateJson } from './json-store.ts';
import { FEED_SKEW_MS } from '../../domain/feed.ts';
import { INDEX_KEY, listIndexAfter, trailKey } from './index-scan.ts';
import { applyToTally, groupByRev } from './tally.ts';

/**
 * What the tick has already read: the index cursor (time-ordered keys the Worker writes at
 * ingest) and the batch ids seen per tenant (so that re-listed index entries and batches
 * found by discovery are never read twice). Stored at `snappy-quorum/scan.json`.
 */
export interface ScanState {
  v: 1;
  /** Last index key fully processed, minus the skew window. */
  cursor: string;
  /** tenant -> batch ids already applied to the tallies. */
  seen: Record<string, string[]>;
}


export interface ScanResult {
  batches: number;
  rows: number;
  /** Rows skipped (bad schema, or naming a tenant other than the batch's folder). */
  invalid: number;
  /** Runs that were new to their rev's tally. */
  added: number;
  /** `skill:rev` of every rev whose tally gained runs. */
  touched: string[];
  /** True when the deadline stopped the scan before every new batch was read. */
  partial: boolean;
}

const emptyState = (): ScanState => ({ v: 1, cursor: '', seen: {} });

/**
 * Reads batches not yet applied (from the index cursor, and by listing every batch key when
 * `discover` is on), applies their rows of staged revs to the per-rev tallies, then records
 * them as seen. A kill at any point leaves them unseen and the next tick applies them again,
 * which the tallies' dedupe by (tenant, run_id) makes harmless.
 */
export async function scanNewBatches(blobs: BlobStore, opts: { now: number; deadline: number; discover: boolean; closed?: ReadonlySet<string> }): Promise<ScanResult> {
  const state = (await readJson<ScanState>(blobs, Remote.quorumScan)) ?? emptyState();
  const seen = new Map<string, Set<string>>(Object.entries(state.seen).map(([t, ids]) => [t, new Set(ids)]));
  const isSeen = (t: string, b: string) => seen.get(t)?.has(b) ?? false;
  const todo = new Map<string, { tenant: string; batch: string }>();
  let lastIndex = state.cursor;
  for await (const o of listIndexAfter(blobs, state.cursor, opts.now)) {
    lastIndex = o.key;
    const m = INDEX_KEY.exec(o.key);
    if (m && !isSeen(m[1]!, m[2]!)) todo.set(Remote.aggregateBatch(m[1]!, m[2]!), { tenant: m[1]!, batch: m[2]! });
  }
  if (opts.discover) {
    for await (const o of blobs.list(Remote.aggregatePrefix)) {
      const m = /^snappy-agg\/([^/]+)\/([^/]+)\.ndjson$/.exec(o.key);
      if (m && isTenantId(m[1]) && !isSeen(m[1]!, m[2]!)) todo.set(o.key, { tenant: m[1]!, batch: m[2]! });
    }
  }
  const res: ScanResult = { batches: 0, rows: 0, invalid: 0, added: 0, touched: [], partial: false };
  const done: { tenant: string; batch: string }[] = [];
  const rows: AggRow[] = [];
  for (const [key, b] of todo) {
    if (Date.now() > opts.deadline) {
      res.partial = true;
      break;
    }
    const bytes = await blobs.get(key);
    if (!bytes) continue;
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (!line.trim()) continue;
      const c = checkAggLine(line);
      // Direct-mode batches reach the bucket unchecked: a row may only speak for its folder's tenant.
      if (!c.ok || c.row.tenant !== b.tenant) {
        res.invalid++;
        continue;
      }
      rows.push(c.row);
    }
    done.push(b);
    res.batches++;
  }
  res.rows = rows.length;
  for (const [ref, list] of groupByRev(rows)) {
    // A promoted or rejected rev is decided: its tally is never read again, so it is not kept up.
    if (opts.closed?.has(ref)) continue;
    const [skill, rev] = ref.split(':') as [string, string];
    const added = await applyToTally(blobs, skill, rev, list);
    if (added) {
      res.added += added;
      res.touched.push(ref);
    }
  }
  // Trail the cursor so an index entry that lands late (clock skew, slow write) is still listed.
  const trail = trailKey(opts.now - FEED_SKEW_MS);
  const nextCursor = res.partial ? state.cursor : lastIndex < trail ? lastIndex : trail > state.cursor ? trail : state.cursor;
  if (done.length || nextCursor !== state.cursor) {
    await updateJson<ScanState>(blobs, Remote.quorumScan, emptyState, (cur) => {
      let changed = false;
      const sets = new Map<string, Set<string>>();
      for (const { tenant, batch } of done) {
        let set = sets.get(tenant);
        if (!set) sets.set(tenant, (set = new Set(cur.seen[tenant] ?? [])));
        if (set.has(batch)) continue;
        set.add(batch);
        changed = true;
      }
      for (const [tenant, set] of sets) cur.seen[tenant] = [...set];
      if (nextCursor > cur.cursor) {
        cur.cursor = nextCursor;
        changed = true;
      }
      return changed ? cur : null;
    });
  }
  return res;
}
