import { readEntry, readLog } from '../domain/changelog.ts';
import { Remote } from '../domain/layout.ts';
import { tenantOfAggLine } from '../domain/agg-row.ts';
import { isSkillName } from '../domain/names.ts';
import { watchView, type QuorumService } from '../plugins/quorum/index.ts';
import { INDEX_KEY, listIndexAfter } from '../domain/agg-index.ts';
import { FEED_SKEW_MS, nextCursor, trailCursor } from '../domain/feed.ts';
import { afterIndexHour, beforeHour, closedBefore, compactedHours, retentionFloor, SEGMENT_PART } from '../domain/agg-segment.ts';
import { DAY, retentionDays } from './retention.ts';
import { removedTenants } from '../domain/tenant-removal.ts';
import { storesOf } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json } from './http.ts';

const MAX_PULL_BYTES = 4 * 1024 * 1024;
const MAX_PULL_BATCHES = 500;
/** Segment parts (each up to about 2 MB) one page serves at most, within the byte budget. */
const MAX_PULL_PARTS = 50;

const RAW_CURSOR = /^snappy-agg-index\/[0-9a-f/-]+$/;

/**
 * GET /v1/aggregate?after=<cursor>: rows of every tenant's batches stored through the Worker
 * since the cursor, as ndjson. Closed hours the cron compacted come as segments (one object
 * per about 2 MB of rows instead of one per batch), the hours after them as raw batches in the
 * order they arrived; hours older than the retention window (`SNAPPY_AGG_RETENTION_DAYS`) are
 * not served. Headers: `x-snappy-cursor` (pass it as `after` next time), `x-snappy-more: 1`
 * when more remain, `x-snappy-batches` and `x-snappy-segments` (objects served), and
 * `x-snappy-retention-days` (0: kept forever). A row may come twice (the cursor trails the
 * newest batch by 30 s, and a cursor inside a compacted hour gets that hour's segment whole):
 * merge by (tenant, run_id).
 *
 * Cursors: empty (from the oldest row kept); `snappy-agg-index/<hour>/<ts13>...` (raw batches
 * after it, the only form of earlier releases, still accepted); `snappy-agg-seg/<hour>/<part>`
 * (segments after that part, then raw batches after its hour). Anything else is refused (400).
 */
export async function pullAggregate(url: URL, env: Env, now = Date.now()): Promise<Response> {
  const { blobs } = storesOf(env);
  const after = url.searchParams.get('after') ?? '';
  const segCursor = SEGMENT_PART.exec(after);
  if (after && !segCursor && !RAW_CURSOR.test(after)) return fail(400, `after: ${JSON.stringify(after)} is not a cursor this route returned`);
  const retentionMs = retentionDays(env) * DAY;
  const floor = retentionFloor(now, retentionMs);
  const rawHour = !segCursor && after ? /^snappy-agg-index\/(\d{10})\//.exec(after)?.[1] : undefined;
  // Where segments would start: a raw cursor in an hour still open is past every segment (a
  // pull every minute lists none); one in a closed hour gets that hour's segment whole.
  let segFrom: string | null = segCursor ? after : !after ? Remote.aggregateSegmentPrefix : rawHour && rawHour < closedBefore(now) ? beforeHour(Remote.aggregateSegmentPrefix, rawHour) : null;
  if (segFrom !== null && floor && segFrom < beforeHour(Remote.aggregateSegmentPrefix, floor)) segFrom = beforeHour(Remote.aggregateSegmentPrefix, floor);
  // Rows of tenants removed since their segments were written are left out here.
  const removed = await removedTenants(blobs);
  const gone = removed.length ? new Set(removed) : null;
  const keep = (text: string) => (gone ? text.split('\n').filter((l) => !l || !gone.has(tenantOfAggLine(l) ?? '')).join('\n') : text);
  let out = '';
  let more = false;
  let parts = 0;
  let lastHour = segCursor?.[1];
  let segLast: string | undefined;
  if (segFrom !== null) {
    hours: for await (const h of compactedHours(blobs, segFrom)) {
      for (const key of h.parts) {
        if (parts >= MAX_PULL_PARTS || out.length >= MAX_PULL_BYTES) {
          more = true;
          break hours;
        }
        const b = await blobs.get(key);
        if (b) out += keep(new TextDecoder().decode(b));
        parts++;
        segLast = key;
      }
      lastHour = h.hour;
    }
  }
  if (more) {
    return aggregateAnswer(out, segLast ?? after, true, 0, parts, retentionMs, removed);
  }
  // Raw batches: after the last compacted hour served, else after the cursor, never before the window.
  let rawAfter = lastHour ? afterIndexHour(lastHour) : segCursor ? '' : after;
  if (rawHour && rawAfter < after) rawAfter = after;
  if (floor && rawAfter < beforeHour(Remote.aggregateIndexPrefix, floor)) rawAfter = beforeHour(Remote.aggregateIndexPrefix, floor);
  let last = rawAfter;
  let n = 0;
  for await (const o of listIndexAfter(blobs, rawAfter, now)) {
    if (n >= MAX_PULL_BATCHES || out.length >= MAX_PULL_BYTES) {
      more = true;
      break;
    }
    const m = INDEX_KEY.exec(o.key);
    if (!m) continue;
    last = o.key;
    if (gone?.has(m[1]!)) continue; // a removal under way: its entries are going
    const b = await blobs.get(Remote.aggregateBatch(m[1]!, m[2]!));
    if (b) out += new TextDecoder().decode(b);
    n++;
  }
  // Nothing after the last compacted hour: the cursor moves up to the trailing window, out of
  // the closed hours, so the next pull lists no segments again.
  const idle = !n && !more && last === rawAfter;
  const trail = trailCursor(Remote.aggregateIndexPrefix, now - FEED_SKEW_MS);
  const cursor = idle && lastHour && trail > rawAfter ? trail : nextCursor(Remote.aggregateIndexPrefix, rawAfter, last, now, more);
  return aggregateAnswer(out, cursor, more, n, parts, retentionMs, removed);
}

function aggregateAnswer(out: string, cursor: string, more: boolean, batches: number, segments: number, retentionMs: number, removed: string[]): Response {
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson; charset=utf-8', 'x-snappy-cursor': cursor, 'x-snappy-more': more ? '1' : '0', 'x-snappy-batches': String(batches), 'x-snappy-segments': String(segments), 'x-snappy-retention-days': String(retentionMs / DAY), 'cache-control': 'no-store' };
  if (removed.length) headers['x-snappy-removed-tenants'] = removed.join(',');
  return new Response(out, { headers });
}

/**
 * GET /v1/canonical/<skill>: the promoted folder as JSON, cached in KV (under the quorum
 * plugin's key, which each promotion replaces) until the next promotion.
 */
export async function pullCanonical(skill: string, env: Env, quorum: QuorumService | undefined): Promise<Response> {
  if (!isSkillName(skill)) return fail(400, `skill ${JSON.stringify(skill)} is not a valid skill name`);
  const { blobs, kv } = storesOf(env);
  const cacheKey = quorum?.canonicalCacheKey(skill);
  const cached = cacheKey ? await kv.get(cacheKey) : null;
  if (cached) return new Response(cached, { headers: { 'content-type': 'application/json; charset=utf-8', 'x-snappy-cache': 'hit' } });
  const dir = Remote.canonicalDir(skill);
  const files: Record<string, string> = {};
  for await (const o of blobs.list(dir)) {
    const b = await blobs.get(o.key);
    if (b) files[o.key.slice(dir.length)] = new TextDecoder().decode(b);
  }
  if (!Object.keys(files).length) return fail(404, `no canonical pages for skill ${skill}`);
  // The changelog says which rev the folder is (a rollback may have restored an earlier one).
  const log = await readLog(blobs, skill).catch(() => null);
  const promoted = log?.canonical ? await readEntry(blobs, log, log.canonical.seq).catch(() => null) : null;
  const body = JSON.stringify({ skill, rev_id: log?.canonical?.rev_id ?? null, promoted, ...(log?.lastChange?.action === 'rollback' ? { rolledBack: log.lastChange } : {}), files });
  if (cacheKey) await kv.put(cacheKey, body);
  return new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8', 'x-snappy-cache': 'miss' } });
}

/** GET /v1/canonical: the skills that have canonical pages. */
export async function listCanonical(env: Env): Promise<Response> {
  const { blobs } = storesOf(env);
  const skills = new Set<string>();
  for await (const o of blobs.list(Remote.canonicalPrefix)) skills.add(o.key.slice(Remote.canonicalPrefix.length).split('/')[0]!);
  return json({ ok: true, skills: [...skills] });
}

/**
 * GET /v1/status, by who asks: anyone gets `last_quorum_promotion`, `last_quorum_rollback` and
 * counts; a tenant's signed request also gets each staged rev's progress (no per-tenant rows),
 * `decided`, the revs promoted, quarantined, rejected or expired (with when), and the watch of each
 * promotion as counts; the operator (ops token) gets everything /snappy-ops shows.
 */
export async function status(env: Env, quorum: QuorumService | undefined, who: 'public' | 'tenant' | 'operator'): Promise<Response> {
  if (!quorum) return fail(503, 'this Worker runs without the quorum plugin (config builtins): there is no quorum status');
  const { blobs, kv } = storesOf(env);
  const all = await quorum.revs(blobs);
  const counts: Record<string, number> = { staged: all.length };
  for (const r of all) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const last = await quorum.lastPromotion(kv);
  if (who === 'public') return json({ ok: true, counts, last_quorum_promotion: last, last_quorum_rollback: await quorum.lastRollback(kv) });
  const open = all.filter((r) => r.state !== 'promoted');
  // The watch as counts: who objects and how each tenant scored stay with the operator (/snappy-ops).
  const watch = watchView(await quorum.watch({ blobs, kv }));
  if (who === 'operator') return json({ ok: true, counts, staged: open.map(({ histogram: _h, ...r }) => r), last_quorum_promotion: last, watch });
  // The regression gate's comparison is in fleet means and counts: no tenant's own scores.
  const staged = open.map((r) => ({ skill: r.skill, rev: r.rev, state: r.state, manualReview: r.manualReview, thresholds: r.thresholds, scored: r.tenants.length, endorsing: r.endorsing, endorsingRuns: r.endorsingRuns, totalRuns: r.totalRuns, mean: r.mean, decision: r.decision, expiry: r.expiry, regression: r.regression }));
  // The revs no longer waiting for evaluation, so a tenant's pull can tell its status which.
  const decided = all.flatMap((r): Record<string, unknown>[] => {
    if (r.state === 'promoted') return [{ skill: r.skill, rev: r.rev, state: r.state, ts: r.promotion?.ts ?? null, by: r.promotion?.by ?? null }];
    if (r.state === 'quarantined') return [{ skill: r.skill, rev: r.rev, state: r.state, ts: r.quarantine?.ts ?? null, reason: r.quarantine?.reason ?? null }];
    if (r.state === 'rejected') return [{ skill: r.skill, rev: r.rev, state: r.state, ts: r.rejection?.ts ?? null }];
    if (r.state === 'expired') return [{ skill: r.skill, rev: r.rev, state: r.state, ts: r.expiry.expired?.ts ?? null, by: r.expiry.expired?.by ?? null, reason: r.expiry.expired?.reason ?? null }];
    return [];
  });
  return json({ ok: true, counts, staged, decided, last_quorum_promotion: last, watch });
}
