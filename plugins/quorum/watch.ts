import type { BlobStore } from '../../core/ports.ts';
import type { ChangelogEntry } from '../../domain/changelog.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { readJson, updateJson } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';

/** One tenant as the watch of a promotion sees it. */
export interface WatchTenant {
  /** Epoch ms the tenant adopted the page: its first push of the page hashing to the rev (or when the tick first saw it). */
  adopted?: number;
  /** `push`: the Worker saw the page pushed; `tick`: the tick saw it on the bucket (direct mode). */
  via?: 'push' | 'tick';
  /** Rows at or after this time (adoption plus the grace) are the page's evidence. */
  cutoff?: number;
  /** The etag of the tenant's shared page the tick last looked at (so it reads a page only when it changed). */
  page?: string;
  /** Runs counted since `cutoff`: count, sum and sum of squares of scores. */
  n: number;
  sum: number;
  sq: number;
  /** Rows since the promotion that arrived before the adoption was known: [ms after the promotion, score]. */
  pending?: [number, number][];
}

/**
 * The watch of one promotion (`snappy-quorum/watch/<skill>/<seq>.json`): which tenants adopted
 * the page and when, and their plain `<skill>` runs since. Opened when the promotion is made,
 * fed by the tick's scan, closed (a `.closed.json` beside it) when the page is rolled back,
 * replaced or has been watched long enough.
 */
export interface Watch {
  v: 1;
  skill: string;
  seq: number;
  rev: string;
  /** When the promotion was decided (its changelog entry's ts), epoch ms. */
  promotedAt: number;
  by: string;
  /** The grace this watch applies (fixed when it opened, so later config does not move cutoffs already set). */
  graceMs: number;
  tenants: Record<string, WatchTenant>;
  /** `<tenant>/<batch>` of the batches applied, so a batch read again adds nothing. */
  batches: string[];
}

/** Why a watch ended. */
export interface WatchClosed {
  ts: string;
  why: 'rolled back' | 'replaced' | 'passed';
  detail?: string;
}

/** An open watch as a listing names it. */
export interface WatchRef {
  skill: string;
  seq: number;
}

/** Rows kept per tenant while its adoption is unknown: the newest win (the oldest are the likeliest to predate it). */
const MAX_PENDING = 500;
const MAX_BATCHES = 2000;

export function isWatch(v: unknown): boolean {
  const w = v as Watch;
  return !!w && w.v === 1 && typeof w.rev === 'string' && Number.isFinite(w.promotedAt) && typeof w.tenants === 'object' && w.tenants !== null && Array.isArray(w.batches);
}

/** Opens the watch of a promotion (create-only: a rerun finds it open). */
export async function openWatch(blobs: BlobStore, e: ChangelogEntry, graceMs: number): Promise<void> {
  const w: Watch = { v: 1, skill: e.skill, seq: e.seq, rev: e.rev_id, promotedAt: Date.parse(e.ts), by: e.by, graceMs, tenants: {}, batches: [] };
  await blobs.put(Remote.watch(e.skill, e.seq), JSON.stringify(w), { ifAbsent: true, contentType: 'application/json' });
}

/** Ends a watch, once: the first reason stays. */
export async function closeWatch(blobs: BlobStore, ref: WatchRef, why: WatchClosed['why'], now: number, detail?: string): Promise<void> {
  const c: WatchClosed = { ts: new Date(now).toISOString(), why, ...(detail ? { detail } : {}) };
  await blobs.put(Remote.watchClosed(ref.skill, ref.seq), JSON.stringify(c), { ifAbsent: true, contentType: 'application/json' });
}

const WATCH_KEY = /^([^/]+)\/(\d{8})(\.closed)?\.json$/;

const init = (): Watch => ({ v: 1, skill: '', seq: 0, rev: '', promotedAt: 0, by: '', graceMs: 0, tenants: {}, batches: [] });

/** Open watches, from one listing (of `skill`'s watches only, when given). */
export async function openWatches(blobs: BlobStore, skill?: string): Promise<WatchRef[]> {
  const open = new Map<string, WatchRef>();
  const closed = new Set<string>();
  for await (const o of blobs.list(skill ? `${Remote.watchPrefix}${skill}/` : Remote.watchPrefix)) {
    const m = WATCH_KEY.exec(o.key.slice(Remote.watchPrefix.length));
    if (!m) continue;
    const id = `${m[1]}/${m[2]}`;
    if (m[3]) closed.add(id);
    else open.set(id, { skill: m[1]!, seq: Number(m[2]) });
  }
  return [...open].filter(([id]) => !closed.has(id)).map(([, r]) => r);
}

export async function readWatch(blobs: BlobStore, ref: WatchRef): Promise<Watch | null> {
  return readJson<Watch>(blobs, Remote.watch(ref.skill, ref.seq), isWatch);
}

/**
 * Adds batches' plain rows of the watched skill by `tenant`, in one update: rows from before the
 * promotion are the baseline's (the daily summaries hold them), rows from the tenant's cutoff on
 * are counted, and rows in between wait while the tenant's adoption is unknown. Exactly once per
 * batch. Returns whether anything changed.
 */
export async function applyToWatch(blobs: BlobStore, ref: WatchRef, tenant: string, batches: readonly { batch: string; rows: readonly AggRow[] }[]): Promise<boolean> {
  let changed = false;
  await updateJson<Watch>(
    blobs,
    Remote.watch(ref.skill, ref.seq),
    init,
    (w) => {
      changed = false;
      // A watch is created when it opens; absent, it was never opened (or not yet): nothing to add to.
      if (!w.rev) return null;
      for (const { batch, rows } of batches) {
        const id = `${tenant}/${batch}`;
        if (w.batches.includes(id)) continue;
        const late = rows.filter((r) => Date.parse(r.ts) >= w.promotedAt);
        if (!late.length) continue;
        const t = (w.tenants[tenant] ??= { n: 0, sum: 0, sq: 0 });
        for (const r of late) {
          const at = Date.parse(r.ts);
          if (t.cutoff !== undefined) {
            if (at >= t.cutoff) count(t, r.score);
          } else (t.pending ??= []).push([at - w.promotedAt, r.score]);
        }
        if (t.pending && t.pending.length > MAX_PENDING) t.pending = t.pending.sort((a, b) => a[0] - b[0]).slice(-MAX_PENDING);
        w.batches.push(id);
        changed = true;
      }
      if (!changed) return null;
      if (w.batches.length > MAX_BATCHES) w.batches.splice(0, w.batches.length - MAX_BATCHES);
      return w;
    },
    { check: isWatch },
  );
  return changed;
}

/**
 * Records that `tenant` adopted the watched page at `at` (the first time only): from `at` plus
 * the grace its runs count, including the rows that waited for this. Returns whether it was new.
 */
export async function adopt(blobs: BlobStore, ref: WatchRef, tenant: string, at: number, via: 'push' | 'tick'): Promise<boolean> {
  let fresh = false;
  await updateJson<Watch>(
    blobs,
    Remote.watch(ref.skill, ref.seq),
    init,
    (w) => {
      fresh = false;
      if (!w.rev) return null;
      const t = (w.tenants[tenant] ??= { n: 0, sum: 0, sq: 0 });
      if (t.adopted !== undefined) return null;
      t.adopted = Math.max(at, w.promotedAt);
      t.via = via;
      t.cutoff = t.adopted + w.graceMs;
      for (const [off, score] of t.pending ?? []) if (w.promotedAt + off >= t.cutoff) count(t, score);
      delete t.pending;
      fresh = true;
      return w;
    },
    { check: isWatch },
  );
  return fresh;
}

/** Remembers the etag of a tenant's page the tick looked at and found to be another page. */
export async function notePageSeen(blobs: BlobStore, ref: WatchRef, tenant: string, etag: string): Promise<void> {
  await updateJson<Watch>(
    blobs,
    Remote.watch(ref.skill, ref.seq),
    init,
    (w) => {
      if (!w.rev) return null;
      const t = (w.tenants[tenant] ??= { n: 0, sum: 0, sq: 0 });
      if (t.page === etag || t.adopted !== undefined) return null;
      t.page = etag;
      return w;
    },
    { check: isWatch },
  );
}

function count(t: WatchTenant, score: number): void {
  t.n++;
  t.sum += score;
  t.sq += score * score;
}
