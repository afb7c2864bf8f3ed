import { checkAggLine, type AggRow } from '../domain/agg-row.ts';
import { indexTimeOf } from '../domain/agg-index.ts';
import { FEED_SKEW_MS } from '../domain/feed.ts';
import { batchIdOf } from '../domain/ingest-protocol.ts';
import { isMalformed } from '../domain/json-store.ts';
import { Remote } from '../domain/layout.ts';
import { parseSkillRef } from '../domain/names.ts';
import { applyToTenantDaily } from '../domain/tenant-daily.ts';
import type { Stores } from './bindings.ts';
import { envInt, type Env } from './env.ts';
import { Evaluations } from './evaluations.ts';
import { fail, json } from './http.ts';
import type { AuthedRequest } from './tenant-auth.ts';

/** This isolate's ingest-started evaluations: one at a time, the revs of pushes meanwhile noted for it. */
const evaluations = new Evaluations();

/** Limits of one ingest batch; the client splits its outbox to fit (GET /v1/limits). */
export interface IngestLimits {
  bytes: number;
  rows: number;
  revs: number;
}

export const DEFAULT_LIMITS: IngestLimits = { bytes: 1024 * 1024, rows: 10_000, revs: 100 };

export function ingestLimits(env: Env): IngestLimits {
  return { bytes: envInt(env.SNAPPY_INGEST_MAX_BYTES, DEFAULT_LIMITS.bytes), rows: envInt(env.SNAPPY_INGEST_MAX_ROWS, DEFAULT_LIMITS.rows), revs: envInt(env.SNAPPY_INGEST_MAX_REVS, DEFAULT_LIMITS.revs) };
}

/** The headers that tell a client the limits, on every refusal for size. */
export function limitHeaders(l: IngestLimits): Record<string, string> {
  return { 'x-snappy-limit-bytes': String(l.bytes), 'x-snappy-limit-rows': String(l.rows), 'x-snappy-limit-revs': String(l.revs) };
}

/**
 * The rate limit of one tenant's ingest (Cloudflare's Rate Limiting binding, when bound):
 * over it, 429 with Retry-After of the binding's period (the longest a client need wait).
 */
export async function rateLimited(env: Env, tenant: string): Promise<Response | null> {
  const limiter = env.SNAPPY_INGEST_LIMITER;
  if (!limiter) return null;
  const { success } = await limiter.limit({ key: tenant });
  if (success) return null;
  const period = Number(env.SNAPPY_INGEST_LIMIT_PERIOD ?? 60);
  const retry = Number.isFinite(period) && period > 0 ? Math.ceil(period) : 60;
  return fail(429, `tenant ${tenant} sends batches faster than this Worker's ingest limit; retry after ${retry} s`, { 'retry-after': String(retry) });
}

/**
 * POST /v1/ingest, once authenticated (worker/tenant-auth.ts): every line against the locked
 * schema (400) and its tenant (403), the row and rev limits (413), all before anything is
 * written. The batch is stored create-only under its content id and indexed once: its index
 * key is fixed the first time (`snappy-agg-meta/`), so a retried batch adds nothing. Its rows go
 * into the tenant's daily summaries (plugins/quorum/daily.ts) before it is indexed, so the tick,
 * which lists the index, never has to: a retry after a crash at any step applies them once. The
 * revs it touches are evaluated in the background, by the evaluation this isolate runs or the
 * next one (worker/evaluations.ts; the cron tick is the backstop).
 */
export async function handleIngest(auth: AuthedRequest, env: Env, stores: Stores, evaluate: ((only: string[]) => Promise<unknown>) | null, waitUntil: (p: Promise<unknown>) => void): Promise<Response> {
  const limits = ingestLimits(env);
  const { tenant } = auth;
  let body: string;
  try {
    body = new TextDecoder('utf-8', { fatal: true }).decode(auth.body);
  } catch {
    return fail(400, 'body is not valid UTF-8');
  }
  const lines = body.split('\n');
  // After a key rotation the tenant ships, under its new id, the rows its former ids had not shipped yet.
  const former = new Set(auth.record.formerIds ?? []);
  const revs = new Set<string>();
  const parsed: AggRow[] = [];
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const c = checkAggLine(line);
    if (!c.ok) return fail(400, `line ${i + 1}: ${c.reason}; nothing was stored`);
    if (c.row.tenant !== tenant && !former.has(c.row.tenant)) return fail(403, `line ${i + 1}: the row names tenant ${c.row.tenant} but the batch is signed by tenant ${tenant}${former.size ? ` (whose former ids are ${[...former].join(', ')})` : ''}; nothing was stored`);
    const ref = parseSkillRef(c.row.skill);
    if (ref?.rev) revs.add(`${ref.skill}:${ref.rev}`);
    parsed.push(c.row);
    if (++rows > limits.rows) return fail(413, `more than ${limits.rows} rows in one batch: split it (nothing was stored)`, limitHeaders(limits));
    if (revs.size > limits.revs) return fail(413, `more than ${limits.revs} distinct staged revs in one batch: split it (nothing was stored)`, limitHeaders(limits));
  }
  if (!rows) return fail(400, 'the batch has no rows');
  const { blobs } = stores;
  const batch = await batchIdOf(body);
  const key = Remote.aggregateBatch(tenant, batch);
  // The index key is chosen once per batch, before the batch is stored: a retry after a crash
  // at any step finds it and writes the same entry, never a second one.
  const metaKey = Remote.aggregateMeta(tenant, batch);
  const proposed = Remote.aggregateIndex(Date.now(), tenant, batch);
  let indexKey = proposed;
  if (!(await blobs.put(metaKey, JSON.stringify({ index: proposed }), { ifAbsent: true, contentType: 'application/json' }))) {
    const prior = await blobs.get(metaKey);
    try {
      indexKey = (JSON.parse(new TextDecoder().decode(prior ?? new Uint8Array())) as { index: string }).index || proposed;
    } catch {
      indexKey = proposed;
    }
    // A first attempt that stopped before indexing, retried later: its key sits behind the
    // cursors of machines that pulled since (and maybe in an hour compaction closed), where no
    // pull would find it. It is indexed now instead; were two retries to race here, the batch
    // is indexed twice, which pulls and tallies take as once (rows merge by tenant and run id).
    if (indexKey !== proposed && indexTimeOf(indexKey) < Date.now() - FEED_SKEW_MS / 2 && !(await blobs.head(indexKey))) {
      indexKey = proposed;
      await blobs.put(metaKey, JSON.stringify({ index: proposed }), { contentType: 'application/json' });
    }
  }
  const stored = await blobs.put(key, body, { ifAbsent: true, contentType: 'application/x-ndjson' });
  try {
    await applyToTenantDaily(blobs, tenant, [{ batch, rows: parsed }]);
  } catch (err) {
    // A summary object that does not parse must not stop the tenant's pushes: the batch is stored
    // and indexed all the same, and its rows count everywhere but in that month's summaries.
    if (!isMalformed(err)) throw err;
    console.error(`ingest: ${(err as Error).message}; batch ${batch} left out of the daily summaries`);
  }
  await blobs.put(indexKey, key, { ifAbsent: true });
  if (revs.size && evaluate) {
    const running = evaluations.note([...revs], evaluate);
    if (running) waitUntil(running);
  }
  return json({ ok: true, tenant, batch, key, rows, stored, duplicate: !stored, revs: [...revs] }, stored ? 201 : 200);
}
