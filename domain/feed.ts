import type { BlobInfo, BlobStore } from '../core/ports.ts';
import { hourOf, Remote } from './layout.ts';

/**
 * One entry of the change feed (`snappy-feed/`): what a write the Worker accepted changed.
 * `tenant` limits who sees it (a tenant's own pages); without it every tenant does.
 * `folder` means "list this folder again": a promotion replaces a canonical folder whole.
 */
export interface FeedEntry {
  ts: string;
  kind: 'page' | 'file' | 'brief' | 'staged' | 'canonical';
  tenant?: string;
  keys?: string[];
  folder?: string;
}

/** Entries written up to this long before the newest one seen may still land: cursors trail by it. */
export const FEED_SKEW_MS = 30_000;
const HOUR = 3_600_000;
/** Past this gap one listing from the cursor is cheaper than one per hour folder. */
const MAX_HOURS = 48;

/**
 * Appends an entry. Entries are hints: a reader that sees one twice lists or fetches twice,
 * nothing more, so a writer that crashes and writes again does no harm.
 */
export async function appendFeed(blobs: BlobStore, entry: Omit<FeedEntry, 'ts'>, now = Date.now()): Promise<void> {
  const id = [...crypto.getRandomValues(new Uint8Array(5))].map((x) => x.toString(16).padStart(2, '0')).join('');
  const full: FeedEntry = { ts: new Date(now).toISOString(), ...entry };
  await blobs.put(Remote.feedEntry(now, `${entry.kind[0]}${id}`), JSON.stringify(full), { ifAbsent: true, contentType: 'application/json' });
}

/**
 * Keys under a time-ordered prefix (`snappy-feed/` or `snappy-agg-index/`, both in hour
 * folders) after `after`, oldest first, so the cost follows what is new, not the feed's length:
 * a store that lists from a key (R2, S3) is asked once from the cursor (one request per 1,000
 * keys after it, the same at any hour); elsewhere only the hour folders from the cursor's to
 * now's are listed.
 */
export async function* listTimeOrdered(blobs: BlobStore, prefix: string, after: string, now: number): AsyncIterable<BlobInfo> {
  if (blobs.listsFromKey) {
    yield* blobs.list(prefix, after ? { startAfter: after } : {});
    return;
  }
  const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}(\\d{4})(\\d{2})(\\d{2})(\\d{2})/`).exec(after);
  const start = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])) : NaN;
  if (!m || !Number.isFinite(start) || now - start > MAX_HOURS * HOUR) {
    yield* blobs.list(prefix, after ? { startAfter: after } : {});
    return;
  }
  // One hour past now: an entry stamped by a slightly fast clock is still found.
  for (let t = start; t <= now + HOUR; t += HOUR) yield* blobs.list(`${prefix}${hourOf(t)}/`, t === start ? { startAfter: after } : {});
}

/** The key every entry under `prefix` written at or after `ts` sorts after: a cursor that trails. */
export function trailCursor(prefix: string, ts: number): string {
  return `${prefix}${hourOf(ts)}/${String(Math.max(0, Math.floor(ts))).padStart(13, '0')}`;
}

/**
 * The cursor to hand back after reading up to `last`: never past `now - FEED_SKEW_MS` (a write
 * that lands late is read next time; a reader dedupes), never behind `after`.
 */
export function nextCursor(prefix: string, after: string, last: string, now: number, more: boolean): string {
  if (more) return last;
  const trail = trailCursor(prefix, now - FEED_SKEW_MS);
  const candidate = last < trail ? last : trail;
  return candidate > after ? candidate : after;
}
