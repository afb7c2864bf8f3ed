import type { BlobInfo, BlobStore } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';

const HOUR = 3_600_000;
/** Past this gap a single listing from the cursor is cheaper than one listing per hour. */
const MAX_HOURS = 48;

/** Parses an index key: `snappy-agg-index/<hour>/<ts13>-<tenant>-<batch>`. */
export const INDEX_KEY = /^snappy-agg-index\/\d{10}\/\d{13}-([0-9a-f]{12})-([0-9a-f]+)$/;

/**
 * Index entries after `after` (a key or trail key), oldest first. Lists only the hour folders
 * from the cursor's to now's, so the cost follows new entries, not the index's size, on stores
 * whose listing walks a folder (the file remote) as on S3/R2.
 */
export async function* listIndexAfter(blobs: BlobStore, after: string, now: number): AsyncIterable<BlobInfo> {
  const m = /^snappy-agg-index\/(\d{4})(\d{2})(\d{2})(\d{2})\//.exec(after);
  const start = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])) : NaN;
  if (!m || !Number.isFinite(start) || now - start > MAX_HOURS * HOUR) {
    yield* blobs.list(Remote.aggregateIndexPrefix, after ? { startAfter: after } : {});
    return;
  }
  // One hour past now: an entry stamped by a slightly fast clock is still found.
  for (let t = start; t <= now + HOUR; t += HOUR) yield* blobs.list(Remote.aggregateIndexHour(t), t === start ? { startAfter: after } : {});
}

/** The key every entry written at or after `ts` sorts after (a cursor that trails by a window). */
export function trailKey(ts: number): string {
  return Remote.aggregateIndex(ts, '', '').replace(/-+$/, '');
}
