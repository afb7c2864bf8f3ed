import type { BlobStore, Clock } from '../../core/ports.ts';
import { checkAggLine, type AggRow } from '../../domain/agg-row.ts';
import { FEED_SKEW_MS } from '../../domain/feed.ts';
import { Remote } from '../../domain/layout.ts';
import { isTenantId, parseSkillRef } from '../../domain/names.ts';
import { applyToDaily } from './daily.ts';
import { INDEX_KEY, listIndexAfter, trailKey } from '../../domain/agg-index.ts';
import { isMalformed, readJson, updateJson } from '../../domain/json-store.ts';
import { applyToTally } from './tally.ts';
import { applyToWatch, type WatchRef } from './watch.ts';

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

/** One object the tick skipped, and why (reported in the tick's results and the log). */
export interface Problem {
  key: string;
  reason: string;
}

export interface ScanResult {
  batches: number;
  rows: number;
  /** Rows skipped (bad schema, or naming a tenant other than the batch's folder). */
  invalid: number;
  /** Rows of revs that are not staged (or already decided): counted and dropped. */
  unstaged: number;
  /** Runs that were new to their rev's tally. */
  added: number;
  /** `skill:rev` of every rev whose tally gained runs. */
  touched: string[];
  /** Skills whose open watch gained runs. */
  watched: string[];
  /** True when the deadline stopped the scan before every new batch was read; the next tick goes on. */
  partial: boolean;
  /** Batches still waiting when the scan stopped. */
  backlog: number;
}

const emptyState = (): ScanState => ({ v: 1, cursor: '', seen: {} });
const isScanState = (v: unknown): boolean => {
  const s = v as ScanState;
  return !!s && s.v === 1 && typeof s.cursor === 'string' && typeof s.seen === 'object' && s.seen !== null;
};

/**
 * Reads batches not yet applied (from the index cursor, and by listing every batch key when
 * `discover` is on), one at a time: each batch's runs of staged revs go into the revs' tallies,
 * its plain rows into the daily summaries (and, for a skill under watch, into its watch), and only then is it recorded as seen (with the
 * cursor), in small groups as it goes, so a tick cut short by its deadline or a kill keeps what
 * it did and the next tick goes on from there. A batch applied twice counts nothing twice: tallies dedupe
 * by (tenant, run_id), summaries by batch id. Rows of revs that are not staged are dropped
 * (counted): a tally exists only for a rev someone staged. A malformed object is reported and
 * skipped, never fatal.
 */
export async function scanNewBatches(
  blobs: BlobStore,
  opts: { now: number; deadline: number; clock: Clock; discover: boolean; staged: ReadonlySet<string>; closed?: ReadonlySet<string>; watching?: ReadonlyMap<string, WatchRef>; problem: (p: Problem) => void; shippable?: (tenant: string) => Promise<ReadonlySet<string>> },
): Promise<ScanResult> {
  let state: ScanState;
  try {
    state = (await readJson<ScanState>(blobs, Remote.quorumScan, isScanState)) ?? emptyState();
  } catch (err) {
    if (!isMalformed(err)) throw err;
    // Starting over reads old batches again; the tallies' and summaries' dedupe makes that harmless.
    opts.problem({ key: Remote.quorumScan, reason: `${(err as Error).message}; starting the scan over` });
    state = emptyState();
  }
  const seen = new Map<string, Set<string>>(Object.entries(state.seen).map(([t, ids]) => [t, new Set(Array.isArray(ids) ? ids : [])]));
  const isSeen = (t: string, b: string) => seen.get(t)?.has(b) ?? false;
  const todo: Todo[] = [];
  const queued = new Set<string>();
  for await (const o of listIndexAfter(blobs, state.cursor, opts.now)) {
    const m = INDEX_KEY.exec(o.key);
    if (!m) {
      opts.problem({ key: o.key, reason: 'not an index entry (skipped)' });
      continue;
    }
    const key = Remote.aggregateBatch(m[1]!, m[2]!);
    // Already applied entries still move the cursor past them.
    const done = isSeen(m[1]!, m[2]!) || queued.has(key);
    queued.add(key);
    todo.push({ key, tenant: m[1]!, batch: m[2]!, index: o.key, done });
  }
  if (opts.discover) {
    for await (const o of blobs.list(Remote.aggregatePrefix)) {
      const m = /^snappy-agg\/([^/]+)\/([^/]+)\.ndjson$/.exec(o.key);
      if (m && isTenantId(m[1]) && !isSeen(m[1]!, m[2]!) && !queued.has(o.key)) {
        queued.add(o.key);
        todo.push({ key: o.key, tenant: m[1]!, batch: m[2]!, done: false });
      }
    }
  }
  const res: ScanResult = { batches: 0, rows: 0, invalid: 0, unstaged: 0, added: 0, touched: [], watched: [], partial: false, backlog: 0 };
  const touched = new Set<string>();
  const watched = new Set<string>();
  const trail = trailKey(opts.now - FEED_SKEW_MS);
  // Progress is committed batch by batch, in groups so a long backlog does not rewrite the scan
  // state for every batch: at most COMMIT_EVERY batches or COMMIT_MS of work is ever redone.
  const pending: { tenant: string; batch: string }[] = [];
  let cursor = state.cursor;
  let committedCursor = state.cursor;
  let lastCommit = opts.clock.now();
  const flush = async () => {
    if (!pending.length && cursor <= committedCursor) return;
    await commit(blobs, pending.splice(0), cursor);
    committedCursor = cursor;
    lastCommit = opts.clock.now();
  };
  let i = 0;
  for (; i < todo.length; i++) {
    const b = todo[i]!;
    if (!b.done && opts.clock.now() > opts.deadline) {
      res.partial = true;
      break;
    }
    if (!b.done) {
      await applyBatch(blobs, b, opts, res, touched, watched);
      res.batches++;
      pending.push({ tenant: b.tenant, batch: b.batch });
    }
    // The cursor follows the index in order, trailing by the skew window so a late entry is listed again.
    if (b.index !== undefined) {
      const next = b.index < trail ? b.index : trail;
      if (next > cursor) cursor = next;
    }
    if (pending.length >= COMMIT_EVERY || opts.clock.now() - lastCommit > COMMIT_MS) await flush();
  }
  res.backlog = todo.slice(i).filter((t) => !t.done).length;
  // With nothing left before it, the cursor may move up to the trail.
  if (!res.partial && trail > cursor) cursor = trail;
  await flush();
  res.touched = [...touched];
  res.watched = [...watched];
  return res;
}

interface Todo {
  key: string;
  tenant: string;
  batch: string;
  /** The index entry it was found by (none when found by discovery). */
  index?: string;
  /** Applied by an earlier tick (or listed twice): only moves the cursor. */
  done: boolean;
}

const COMMIT_EVERY = 25;
const COMMIT_MS = 500;

/** One batch: its runs of staged, undecided revs into their tallies and daily summaries; its plain rows into the daily summaries. */
async function applyBatch(
  blobs: BlobStore,
  b: { key: string; tenant: string; batch: string },
  opts: { staged: ReadonlySet<string>; closed?: ReadonlySet<string>; watching?: ReadonlyMap<string, WatchRef>; problem: (p: Problem) => void; shippable?: (tenant: string) => Promise<ReadonlySet<string>> },
  res: ScanResult,
  touched: Set<string>,
  watched: Set<string>,
): Promise<void> {
  const bytes = await blobs.get(b.key);
  if (!bytes) return;
  // After a key rotation a tenant ships the rows its former ids left unshipped (docs/operate.md "Rotate a key").
  const own = opts.shippable ? await opts.shippable(b.tenant) : new Set([b.tenant]);
  const byRev = new Map<string, AggRow[]>();
  const plain = new Map<string, AggRow[]>();
  for (const line of new TextDecoder().decode(bytes).split('\n')) {
    if (!line.trim()) continue;
    const c = checkAggLine(line);
    // Direct-mode batches reach the bucket unchecked: a row may only speak for its folder's tenant (or a former id of it).
    if (!c.ok || !own.has(c.row.tenant)) {
      res.invalid++;
      continue;
    }
    res.rows++;
    const ref = parseSkillRef(c.row.skill);
    if (!ref) continue;
    if (!ref.rev) {
      const list = plain.get(ref.skill);
      if (list) list.push(c.row);
      else plain.set(ref.skill, [c.row]);
      continue;
    }
    const id = `${ref.skill}:${ref.rev}`;
    if (!opts.staged.has(id) || opts.closed?.has(id)) {
      res.unstaged++;
      continue;
    }
    const list = byRev.get(id);
    if (list) list.push(c.row);
    else byRev.set(id, [c.row]);
  }
  for (const [id, rows] of byRev) {
    const [skill, rev] = id.split(':') as [string, string];
    try {
      const added = await applyToTally(blobs, skill, rev, rows);
      if (added) {
        res.added += added;
        touched.add(id);
      }
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.tally(skill, rev), reason: `${(err as Error).message}; ${rows.length} run(s) of ${b.key} not counted` });
    }
    try {
      await applyToDaily(blobs, skill, b.tenant, b.batch, rows, rev);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.revDaily(skill, rev, b.tenant), reason: (err as Error).message });
    }
  }
  for (const [skill, rows] of plain) {
    try {
      await applyToDaily(blobs, skill, b.tenant, b.batch, rows);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.daily(skill, b.tenant), reason: (err as Error).message });
    }
    const w = opts.watching?.get(skill);
    if (!w) continue;
    try {
      if (await applyToWatch(blobs, w, b.tenant, b.batch, rows)) watched.add(skill);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.watch(w.skill, w.seq), reason: `${(err as Error).message}; ${rows.length} run(s) of ${b.key} not counted` });
    }
  }
}

/** Records batches as seen and moves the cursor: one compare-and-swap of the scan state. */
async function commit(blobs: BlobStore, done: { tenant: string; batch: string }[], cursor: string): Promise<void> {
  await updateJson<ScanState>(
    blobs,
    Remote.quorumScan,
    emptyState,
    (cur) => {
      let changed = false;
      for (const d of done) {
        const list = (cur.seen[d.tenant] ??= []);
        if (!list.includes(d.batch)) {
          list.push(d.batch);
          changed = true;
        }
      }
      if (cursor > cur.cursor) {
        cur.cursor = cursor;
        changed = true;
      }
      return changed ? cur : null;
    },
    { check: isScanState },
  ).catch(async (err) => {
    if (!isMalformed(err)) throw err;
    // A poisoned scan state is replaced: it only saves work, and everything it guards is deduped.
    const seen: Record<string, string[]> = {};
    for (const d of done) (seen[d.tenant] ??= []).push(d.batch);
    await blobs.put(Remote.quorumScan, JSON.stringify({ v: 1, cursor, seen }));
  });
}
