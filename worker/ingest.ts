import { checkAggLine } from '../domain/agg-row.ts';
import { timingSafeEqual } from '../domain/hash.ts';
import { HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, batchIdOf, signIngest } from '../domain/ingest-protocol.ts';
import { Remote } from '../domain/layout.ts';
import { isTenantId, parseSkillRef } from '../domain/names.ts';
import { getTenant } from '../plugins/quorum/ops.ts';
import { storesOf } from './bindings.ts';
import type { Env, ExecCtx } from './env.ts';
import { fail, json, readLimited } from './http.ts';

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_WINDOW_MS = 5 * 60_000;

/**
 * POST /v1/ingest (domain/ingest-protocol.ts). Checks, in order: size (413), the auth headers
 * and replay window (401), admission and signature (403), then every line against the locked
 * schema (400) and its tenant (403), all before anything is written. The batch is then stored
 * create-only under its content id, so a retry adds nothing; the revs it touches are
 * evaluated at once in the background (the cron tick is the backstop).
 */
export async function handleIngest(req: Request, env: Env, ctx: ExecCtx, evaluate: (only: string[]) => Promise<unknown>): Promise<Response> {
  const max = Number(env.SNAPPY_INGEST_MAX_BYTES ?? DEFAULT_MAX_BYTES);
  const windowMs = Number(env.SNAPPY_INGEST_WINDOW_MS ?? DEFAULT_WINDOW_MS);
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > max) return fail(413, `body of ${declared} bytes is larger than the limit of ${max} bytes: ship smaller batches`);
  const tenant = req.headers.get(HEADER_TENANT);
  const tsText = req.headers.get(HEADER_TIMESTAMP);
  const signature = req.headers.get(HEADER_SIGNATURE);
  const missing = [!tenant && HEADER_TENANT, !tsText && HEADER_TIMESTAMP, !signature && HEADER_SIGNATURE].filter(Boolean);
  if (missing.length) return fail(401, `missing header(s) ${missing.join(', ')}: sign the batch with the ingest key (see docs/worker.md)`);
  if (!isTenantId(tenant)) return fail(401, `${HEADER_TENANT}: ${JSON.stringify(tenant)} is not a tenant id (12 lower-case hex)`);
  const ts = Number(tsText);
  if (!/^\d{1,16}$/.test(tsText!) || !Number.isSafeInteger(ts)) return fail(401, `${HEADER_TIMESTAMP}: ${JSON.stringify(tsText)} is not epoch milliseconds`);
  const skew = Date.now() - ts;
  if (Math.abs(skew) > windowMs) return fail(401, `${HEADER_TIMESTAMP} is ${Math.round(skew / 1000)} s off the Worker's clock, outside the ±${windowMs / 1000} s window: a replayed request, or this machine's clock is wrong`);
  const { blobs, kv } = storesOf(env);
  const admitted = await getTenant(kv, tenant);
  if (!admitted) return fail(403, `tenant ${tenant} is not admitted: hand \`snappy ops key\` output to the operator (snappy ops tenants admit)`);
  const bytes = await readLimited(req, max);
  if (!bytes) return fail(413, `body is larger than the limit of ${max} bytes: ship smaller batches`);
  let body: string;
  try {
    body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(400, 'body is not valid UTF-8');
  }
  const expected = await signIngest(admitted.ingestKey, tenant, ts, body);
  if (!timingSafeEqual(expected, signature!.toLowerCase())) return fail(403, `${HEADER_SIGNATURE} does not match: the batch was not signed with tenant ${tenant}'s admitted ingest key, or it was altered`);
  const lines = body.split('\n');
  const revs = new Set<string>();
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const c = checkAggLine(line);
    if (!c.ok) return fail(400, `line ${i + 1}: ${c.reason}; nothing was stored`);
    if (c.row.tenant !== tenant) return fail(403, `line ${i + 1}: the row names tenant ${c.row.tenant} but the batch is signed by tenant ${tenant}; nothing was stored`);
    const ref = parseSkillRef(c.row.skill);
    if (ref?.rev) revs.add(`${ref.skill}:${ref.rev}`);
    rows++;
  }
  if (!rows) return fail(400, 'the batch has no rows');
  const batch = await batchIdOf(body);
  const stored = await blobs.put(Remote.aggregateBatch(tenant, batch), body, { ifAbsent: true, contentType: 'application/x-ndjson' });
  // Also on a retry: the first attempt may have died before indexing. The tick's seen-set makes a second entry harmless.
  await blobs.put(Remote.aggregateIndex(Date.now(), tenant, batch), Remote.aggregateBatch(tenant, batch), { ifAbsent: true });
  if (revs.size) ctx.waitUntil(evaluate([...revs]).catch((err) => console.error(`ingest-triggered tick failed: ${(err as Error).message}`)));
  return json({ ok: true, tenant, batch, key: Remote.aggregateBatch(tenant, batch), rows, stored, duplicate: !stored, revs: [...revs] }, stored ? 201 : 200);
}
