import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, Clock } from '../../core/ports.ts';
import { checkAggLine, type AggRow } from '../../domain/agg-row.ts';
import { FEED_SKEW_MS } from '../../domain/feed.ts';
import { Remote } from '../../domain/layout.ts';
import { isTenantId, parseSkillRef } from '../../domain/names.ts';
import { applyToTenantDaily } from '../../domain/tenant-daily.ts';
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
  /** tenant -> batch ids already applied to the tallies (all of them while discovery is on). */
  seen: Record<string, string[]>;
  /**
   * With discovery off, the index keys past the cursor already applied instead: an entry at or
   * before the cursor is never listed again, so this stays as short as the skew window, where
   * `seen` grew with every batch ever read.
   */
  applied?: string[];
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
 * the plain rows of a skill under watch into its watch, its rows into its tenant's daily
 * summaries unless the ingest already put them there (`ingested`: the Worker's, for the batches
 * its index lists; one found by listing was written to the bucket directly), and only then
 * is it recorded as seen (with the cursor), in small groups as it goes, so a tick cut short by its
 * deadline or a kill keeps what it did and the next tick goes on from there. A batch applied twice
 * counts nothing twice: tallies dedupe by (tenant, run_id), summaries and watches by batch id.
 * Rows of revs that are not staged are dropped (counted): a tally exists only for a rev someone
 * staged. A malformed object is reported and skipped, never fatal.
 */
export async function scanNewBatches(
  blobs: BlobStore,
  opts: { now: number; deadline: number; clock: Clock; discover: boolean; ingested?: boolean; staged: ReadonlySet<string>; closed?: ReadonlySet<string>; watching?: ReadonlyMap<string, WatchRef>; problem: (p: Problem) => void; shippable?: (tenant: string) => Promise<ReadonlySet<string>> },
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
  const applied = new Set(Array.isArray(state.applied) ? state.applied : []);
  const isSeen = (t: string, b: string, index?: string) => (index !== undefined && applied.has(index)) || (seen.get(t)?.has(b) ?? false);
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
    const done = isSeen(m[1]!, m[2]!, o.key) || queued.has(key);
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
  // Progress is committed group by group: the group's tallies, watches and summaries are written
  // (each once, however many of the group's batches touch it), then the scan state, so at most one
  // group of work is ever redone, and the writes grow with the revs and tenants a group touches
  // rather than with its batches.
  const pending: { tenant: string; batch: string; index?: string }[] = [];
  let cursor = state.cursor;
  let i = 0;
  while (i < todo.length) {
    if (todo[i]!.done) {
      cursor = follow(cursor, todo[i]!, trail);
      i++;
      continue;
    }
    // Each tick reads at least one wave, even one that reaches the scan already late: a fleet whose
    // work before the scan outgrows the budget still drains its backlog, a wave per tick.
    if (res.batches > 0 && opts.clock.now() > opts.deadline) {
      res.partial = true;
      break;
    }
    const candidates: Todo[] = [];
    for (let j = i; j < todo.length && candidates.length < GROUP_BATCHES; j++) if (!todo[j]!.done) candidates.push(todo[j]!);
    const group = await applyGroup(blobs, candidates, () => opts.clock.now() > opts.deadline, opts, res, touched, watched);
    checkpoint('scan:group-applied');
    const last = group[group.length - 1];
    while (i < todo.length) {
      const b = todo[i++]!;
      cursor = follow(cursor, b, trail);
      if (b === last) break;
    }
    for (const b of group) pending.push({ tenant: b.tenant, batch: b.batch, ...(b.index !== undefined && !opts.discover ? { index: b.index } : {}) });
    res.batches += group.length;
    await commit(blobs, pending.splice(0), cursor);
    state.cursor = cursor;
  }
  res.backlog = todo.slice(i).filter((t) => !t.done).length;
  // With nothing left before it, the cursor may move up to the trail.
  if (!res.partial && trail > cursor) cursor = trail;
  if (cursor > state.cursor || pending.length) await commit(blobs, pending.splice(0), cursor);
  res.touched = [...touched];
  res.watched = [...watched];
  return res;
}

/** The cursor follows the index in order, trailing by the skew window so a late entry is listed again. */
function follow(cursor: string, b: Todo, trail: string): string {
  if (b.index === undefined) return cursor;
  const next = b.index < trail ? b.index : trail;
  return next > cursor ? next : cursor;
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

/** A group: at most this many batches, or this many bytes of them, are read before their writes and a commit. */
const GROUP_BATCHES = 200;
const GROUP_BYTES = 8 * 1024 * 1024;
/** Reads and writes of one group in flight at once: R2 answers in tens of ms, so a tick waits on many at a time. */
const PARALLEL = 16;

/** Runs `fn` over `items`, `PARALLEL` at a time. */
async function each<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * One group of batches, the first of `candidates` up to the group's bytes or the deadline
 * (returned): each batch's runs of staged, undecided revs into their tallies (one update per rev),
 * a watched skill's plain rows into its watch (one update per tenant), and unless the Worker's
 * ingest took it in (`ingested`, an indexed batch) its rows into its tenant's daily summaries (one update per tenant and month,
 * each batch recorded in it so none counts twice).
 */
async function applyGroup(
  blobs: BlobStore,
  candidates: readonly Todo[],
  late: () => boolean,
  opts: { ingested?: boolean; staged: ReadonlySet<string>; closed?: ReadonlySet<string>; watching?: ReadonlyMap<string, WatchRef>; problem: (p: Problem) => void; shippable?: (tenant: string) => Promise<ReadonlySet<string>> },
  res: ScanResult,
  touched: Set<string>,
  watched: Set<string>,
): Promise<Todo[]> {
  const byRev = new Map<string, AggRow[]>();
  /** `skill tenant` -> a watched skill's plain rows, by batch. */
  const plain = new Map<string, { skill: string; tenant: string; batches: { batch: string; key: string; rows: AggRow[] }[] }>();
  /** tenant -> the batches' rows, by batch (its daily summaries). */
  const daily = new Map<string, { batch: string; rows: AggRow[] }[]>();
  // Read in waves, and stop at the wave that brings the group past GROUP_BYTES (a Worker has 128 MB)
  // or ends past the deadline.
  const group: Todo[] = [];
  const parsed = new Map<Todo, Uint8Array | null>();
  let size = 0;
  for (let w = 0; w < candidates.length && size < GROUP_BYTES && !(w > 0 && late()); w += PARALLEL) {
    const wave = candidates.slice(w, w + PARALLEL);
    await each(wave, async (b) => {
      const bytes = await blobs.get(b.key);
      parsed.set(b, bytes);
      size += bytes?.length ?? 0;
    });
    group.push(...wave);
  }
  for (const b of group) {
    const bytes = parsed.get(b);
    parsed.delete(b);
    if (!bytes) continue;
    // After a key rotation a tenant ships the rows its former ids left unshipped (docs/operate.md
    // "Rotate a key"). A batch the Worker's ingest indexed had every row's tenant checked there;
    // one found by listing `snappy-agg/` (a tenant writing the bucket directly) had not.
    const own = opts.ingested && b.index ? null : opts.shippable ? await opts.shippable(b.tenant) : new Set([b.tenant]);
    const mine = new Map<string, AggRow[]>();
    const all: AggRow[] = [];
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (!line.trim()) continue;
      const c = checkAggLine(line);
      // Direct-mode batches reach the bucket unchecked: a row may only speak for its folder's tenant (or a former id of it).
      if (!c.ok || (own && !own.has(c.row.tenant))) {
        res.invalid++;
        continue;
      }
      res.rows++;
      const ref = parseSkillRef(c.row.skill);
      if (!ref) continue;
      if (!ref.rev) {
        all.push(c.row);
        if (!opts.watching?.has(ref.skill)) continue;
        const list = mine.get(ref.skill);
        if (list) list.push(c.row);
        else mine.set(ref.skill, [c.row]);
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
      all.push(c.row);
    }
    if (!(opts.ingested && b.index) && all.length) {
      const list = daily.get(b.tenant);
      if (list) list.push({ batch: b.batch, rows: all });
      else daily.set(b.tenant, [{ batch: b.batch, rows: all }]);
    }
    for (const [skill, rows] of mine) {
      const k = `${skill} ${b.tenant}`;
      const p = plain.get(k) ?? { skill, tenant: b.tenant, batches: [] };
      p.batches.push({ batch: b.batch, key: b.key, rows });
      plain.set(k, p);
    }
  }
  await each([...byRev], async ([id, rows]) => {
    const [skill, rev] = id.split(':') as [string, string];
    try {
      const added = await applyToTally(blobs, skill, rev, rows);
      if (added) {
        res.added += added;
        touched.add(id);
      }
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.tally(skill, rev), reason: `${(err as Error).message}; ${rows.length} run(s) not counted` });
    }
  });
  await each([...daily], async ([tenant, batches]) => {
    try {
      await applyToTenantDaily(blobs, tenant, batches);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.tenantDailyPrefix + tenant, reason: (err as Error).message });
    }
  });
  await each([...plain.values()], async (p) => {
    const w = opts.watching?.get(p.skill);
    if (!w) return;
    try {
      if (await applyToWatch(blobs, w, p.tenant, p.batches)) watched.add(p.skill);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      opts.problem({ key: Remote.watch(w.skill, w.seq), reason: `${(err as Error).message}; the runs of ${p.batches.length} batch(es) not counted` });
    }
  });
  return group;
}

/** Records batches as seen and moves the cursor: one compare-and-swap of the scan state. */
async function commit(blobs: BlobStore, done: { tenant: string; batch: string; index?: string }[], cursor: string): Promise<void> {
  await updateJson<ScanState>(
    blobs,
    Remote.quorumScan,
    emptyState,
    (cur) => {
      let changed = false;
      const applied = new Set(cur.applied ?? []);
      for (const d of done) {
        if (d.index !== undefined) {
          if (!applied.has(d.index)) {
            applied.add(d.index);
            changed = true;
          }
          continue;
        }
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
      const keep = [...applied].filter((k) => k > cur.cursor).sort();
      if (keep.length !== (cur.applied ?? []).length) changed = true;
      if (keep.length) cur.applied = keep;
      else delete cur.applied;
      return changed ? cur : null;
    },
    { check: isScanState },
  ).catch(async (err) => {
    if (!isMalformed(err)) throw err;
    // A poisoned scan state is replaced: it only saves work, and everything it guards is deduped.
    const seen: Record<string, string[]> = {};
    const applied: string[] = [];
    for (const d of done) {
      if (d.index !== undefined) {
        if (d.index > cursor) applied.push(d.index);
      } else (seen[d.tenant] ??= []).push(d.batch);
    }
    await blobs.put(Remote.quorumScan, JSON.stringify({ v: 1, cursor, seen, ...(applied.length ? { applied } : {}) }));
  });
}
