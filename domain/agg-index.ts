import type { BlobInfo, BlobStore } from '../core/ports.ts';
import { listTimeOrdered, trailCursor } from './feed.ts';
import { Remote } from './layout.ts';

/** Parses an index key: `snappy-agg-index/<hour>/<ts13>-<tenant>-<batch>`. */
export const INDEX_KEY = /^snappy-agg-index\/\d{10}\/\d{13}-([0-9a-f]{12})-([0-9a-f]+)$/;

/** When an index key was given (epoch ms, its `<ts13>`); 0 for a key not of that shape. */
export function indexTimeOf(key: string): number {
  return INDEX_KEY.test(key) ? Number(key.slice(Remote.aggregateIndexPrefix.length + 11, Remote.aggregateIndexPrefix.length + 24)) : 0;
}

/** Batch index entries after `after` (a key or trail key), oldest first; see listTimeOrdered. */
export function listIndexAfter(blobs: BlobStore, after: string, now: number): AsyncIterable<BlobInfo> {
  return listTimeOrdered(blobs, Remote.aggregateIndexPrefix, after, now);
}

/** The key every batch index entry written at or after `ts` sorts after (a cursor that trails by a window). */
export function trailKey(ts: number): string {
  return trailCursor(Remote.aggregateIndexPrefix, ts);
}
