import type { BlobStore } from '../core/ports.ts';
import { trailCursor } from './feed.ts';
import { hourOf, Remote } from './layout.ts';

/** A segment part: `snappy-agg-seg/<hour>/<last index entry it covers>.ndjson`. */
export const SEGMENT_PART = /^snappy-agg-seg\/(\d{10})\/(\d{13}-[0-9a-f]{12}-[0-9a-f]+)\.ndjson$/;
const SEGMENT_DONE = /^snappy-agg-seg\/(\d{10})\/done\.json$/;

/**
 * An hour is compacted only this long after it ended: a batch indexed in it lands by then (the
 * pull's cursor trails by 30 s; an ingest proposes its index key and writes it within one request).
 */
export const COMPACT_LAG_MS = 5 * 60_000;

/** Hours before this one (`YYYYMMDDHH`) are closed at `now`: compaction may take them. */
export function closedBefore(now: number): string {
  return hourOf(now - COMPACT_LAG_MS);
}

/** The first hour still inside a retention window (`0` = keep forever: none). */
export function retentionFloor(now: number, retentionMs: number): string | null {
  return retentionMs > 0 ? hourOf(now - retentionMs) : null;
}

/** One compacted hour: every part of it, in key order (the order of the index entries they cover). */
export interface CompactedHour {
  hour: string;
  parts: string[];
}

/**
 * The compacted hours after `startAfter` (a key under `snappy-agg-seg/`), oldest first, each
 * with its parts; it stops at the first hour whose `done.json` is missing, since compaction
 * finishes hours in order and an hour without it may still lack parts. One listing from the
 * key: a request per 1,000 parts.
 */
export async function* compactedHours(blobs: BlobStore, startAfter: string): AsyncIterable<CompactedHour> {
  let cur: CompactedHour | undefined;
  for await (const o of blobs.list(Remote.aggregateSegmentPrefix, { startAfter })) {
    const part = SEGMENT_PART.exec(o.key);
    if (part) {
      if (cur && cur.hour !== part[1]) return; // the hour before had no done.json: unfinished
      cur ??= { hour: part[1]!, parts: [] };
      cur.parts.push(o.key);
      continue;
    }
    const done = SEGMENT_DONE.exec(o.key);
    if (!done) continue;
    if (cur && cur.hour !== done[1]) return;
    yield cur ?? { hour: done[1]!, parts: [] };
    cur = undefined;
  }
}

/** The index key a segment part's name says it covers up to. */
export function coveredIndexKey(partKey: string): string | null {
  const m = SEGMENT_PART.exec(partKey);
  return m ? `${Remote.aggregateIndexPrefix}${m[1]}/${m[2]}` : null;
}

/**
 * A cursor that sorts after every index entry of `hour` and before the next hour's: the next
 * hour's first instant, in the form of the trailing cursors the pull hands out.
 */
export function afterIndexHour(hour: string): string {
  const next = Date.UTC(Number(hour.slice(0, 4)), Number(hour.slice(4, 6)) - 1, Number(hour.slice(6, 8)), Number(hour.slice(8, 10))) + 3_600_000;
  return trailCursor(Remote.aggregateIndexPrefix, next);
}

/** A key that sorts before every index entry (or segment key) of `hour` and after the previous hour's. */
export function beforeHour(prefix: string, hour: string): string {
  return `${prefix}${hour}`;
}
