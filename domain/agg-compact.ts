import { checkpoint } from '../core/checkpoint.ts';
import type { BlobStore } from '../core/ports.ts';
import { INDEX_KEY } from './agg-index.ts';
import { afterIndexHour, beforeHour, closedBefore, coveredIndexKey, retentionFloor, SEGMENT_PART } from './agg-segment.ts';
import { Remote } from './layout.ts';

/** A part ends at this many batches or this many bytes, whichever comes first. */
export const PART_BATCHES = 1_000;
export const PART_BYTES = 2 * 1024 * 1024;
/** Batches one compaction reads at most (plus the rest of the part it is in): its share of a cron's subrequests. */
export const DEFAULT_COMPACT_BATCHES = 2_000;

export interface CompactOptions {
  now: number;
  /** Hours older than this leave the pull set; none is compacted (0 = keep forever). */
  retentionMs: number;
  /** Epoch ms after which no new part is started. */
  deadline: number;
  maxBatches?: number;
  clock?: () => number;
}

export interface CompactReport {
  /** Hours finished (their done.json written) by this run. */
  hours: string[];
  /** Parts this run wrote (a part another run wrote first is not counted). */
  parts: number;
  batches: number;
  rows: number;
  /** Rows left out of a part because the part already held their (tenant, run_id). */
  duplicates: number;
  /** True when the budget or the deadline stopped it with closed hours left. */
  partial: boolean;
}

/**
 * Compacts closed hours of the batch index into segments, oldest first, exactly once: each
 * part's bytes follow from the index entries it covers and the immutable batches they name, so
 * two runs at once write the same key with the same bytes (create-only: the second is refused),
 * and a run killed anywhere leaves parts that the next run finds by listing and continues after.
 * An hour counts as compacted only once `done.json` is written after its last part.
 */
export async function compactAggregate(blobs: BlobStore, o: CompactOptions): Promise<CompactReport> {
  const clock = o.clock ?? Date.now;
  const max = o.maxBatches ?? DEFAULT_COMPACT_BATCHES;
  const report: CompactReport = { hours: [], parts: 0, batches: 0, rows: 0, duplicates: 0, partial: false };
  const closed = closedBefore(o.now);
  const floor = retentionFloor(o.now, o.retentionMs);
  const head = await readHead(blobs);
  let from = head ? afterIndexHour(head) : '';
  if (floor && from < beforeHour(Remote.aggregateIndexPrefix, floor)) from = beforeHour(Remote.aggregateIndexPrefix, floor);
  for (;;) {
    const hour = await nextIndexHour(blobs, from);
    if (!hour || hour >= closed) break;
    if (report.batches >= max || clock() > o.deadline) {
      report.partial = true;
      break;
    }
    const done = await compactHour(blobs, hour, report, max, o.deadline, clock);
    if (!done) {
      report.partial = true;
      break;
    }
    report.hours.push(hour);
    await advanceHead(blobs, hour);
    from = afterIndexHour(hour);
  }
  return report;
}

/**
 * Writes the parts of `hour` not written yet, then its done.json; false when stopped first. The
 * index entries are listed from the last part's end, so a busy hour compacted over many crons
 * is listed once in all, not once a cron.
 */
async function compactHour(blobs: BlobStore, hour: string, report: CompactReport, max: number, deadline: number, clock: () => number): Promise<boolean> {
  if (await blobs.head(Remote.aggregateSegmentDone(hour))) return true;
  let covered = '';
  let parts = 0;
  for await (const o of blobs.list(Remote.aggregateSegmentHour(hour))) {
    if (!SEGMENT_PART.test(o.key)) continue;
    parts++;
    covered = coveredIndexKey(o.key) ?? covered;
  }
  let part: { seen: Set<string>; text: string; n: number; last: string } | null = null;
  const write = async (p: NonNullable<typeof part>) => {
    const key = Remote.aggregateSegmentPart(hour, p.last.slice(Remote.aggregateIndexPrefix.length + hour.length + 1));
    checkpoint('compact:part-read');
    if (await blobs.put(key, p.text, { ifAbsent: true, contentType: 'application/x-ndjson' })) report.parts++;
    parts++;
    checkpoint('compact:part-written');
  };
  for await (const o of blobs.list(`${Remote.aggregateIndexPrefix}${hour}/`, covered ? { startAfter: covered } : {})) {
    const m = INDEX_KEY.exec(o.key);
    if (!m) continue;
    if (!part) {
      if (report.batches >= max || clock() > deadline) return false;
      part = { seen: new Set(), text: '', n: 0, last: '' };
    }
    const body = await blobs.get(Remote.aggregateBatch(m[1]!, m[2]!));
    report.batches++;
    if (body) {
      for (const line of new TextDecoder().decode(body).split('\n')) {
        if (!line.trim()) continue;
        const k = keyOf(line);
        if (k && part.seen.has(k)) {
          report.duplicates++;
          continue;
        }
        if (k) part.seen.add(k);
        part.text += line + '\n';
        report.rows++;
      }
    }
    part.n++;
    part.last = o.key;
    if (part.n >= PART_BATCHES || part.text.length >= PART_BYTES) {
      await write(part);
      part = null;
    }
  }
  if (part) await write(part);
  await blobs.put(Remote.aggregateSegmentDone(hour), JSON.stringify({ v: 1, hour, parts, ts: new Date(clock()).toISOString() }), { ifAbsent: true, contentType: 'application/json' });
  checkpoint('compact:hour-done');
  return true;
}

/** (tenant, run_id) of an aggregate line; undefined for a line that is not one (kept as it is). */
function keyOf(line: string): string | undefined {
  try {
    const r = JSON.parse(line) as { tenant?: unknown; run_id?: unknown };
    return typeof r.tenant === 'string' && typeof r.run_id === 'string' ? `${r.tenant}\n${r.run_id}` : undefined;
  } catch {
    return undefined;
  }
}

/** The hour of the first index entry after `from`, or null. */
async function nextIndexHour(blobs: BlobStore, from: string): Promise<string | null> {
  for await (const o of blobs.list(Remote.aggregateIndexPrefix, from ? { startAfter: from } : {})) {
    const m = /^snappy-agg-index\/(\d{10})\//.exec(o.key);
    if (m) return m[1]!;
  }
  return null;
}

async function readHead(blobs: BlobStore): Promise<string | null> {
  const b = await blobs.get(Remote.aggregateCompaction);
  if (!b) return null;
  try {
    const h = (JSON.parse(new TextDecoder().decode(b)) as { hour?: unknown }).hour;
    return typeof h === 'string' && /^\d{10}$/.test(h) ? h : null;
  } catch {
    return null; // rewritten by the next hour finished; done.json markers keep the work from repeating
  }
}

/**
 * Moves the hint forward. Two runs may race and leave the older hour: the next run then finds
 * that hour's done.json with one read and goes on.
 */
async function advanceHead(blobs: BlobStore, hour: string): Promise<void> {
  const cur = await readHead(blobs);
  if (cur && cur >= hour) return;
  await blobs.put(Remote.aggregateCompaction, JSON.stringify({ v: 1, hour }), { contentType: 'application/json' });
}
