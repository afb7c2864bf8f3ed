import { AUTH_VERSION, HEADER_AUTH, HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, bodyHashOf, signatureId, verifyRequest } from '../domain/auth.ts';
import { timingSafeEqual } from '../domain/hash.ts';
import { signIngest } from '../domain/ingest-protocol.ts';
import { Remote } from '../domain/layout.ts';
import { isTenantId } from '../domain/names.ts';
import { getTenant, isAdmitted, migrateLegacyTenant, type TenantRecord } from '../domain/registry.ts';
import type { Stores } from './bindings.ts';
import { envInt, type Env } from './env.ts';
import { fail, readLimited } from './http.ts';

const DEFAULT_WINDOW_MS = 5 * 60_000;

/**
 * The replay window for signed requests' timestamps (SNAPPY_INGEST_WINDOW_MS), or the default
 * when the value is not a positive whole number of ms: a typo such as `5m` must not turn into
 * a window nothing falls outside of.
 */
export function replayWindowMs(env: Env): number {
  return envInt(env.SNAPPY_INGEST_WINDOW_MS, DEFAULT_WINDOW_MS);
}

/** A request whose tenant proved who it is. */
export interface AuthedRequest {
  tenant: string;
  record: TenantRecord;
  /** `v2` (Ed25519 over method, path, query, body, time, tenant) or `v1` (legacy HMAC over tenant, time, body). */
  version: 'v1' | 'v2';
  body: Uint8Array;
  signature: string;
  timestamp: number;
}

/** The end of the v1 window (epoch ms), or 0 when signatures v1 are refused. */
export function v1Until(env: Env): number {
  const t = env.SNAPPY_V1_UNTIL ? Date.parse(env.SNAPPY_V1_UNTIL) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/**
 * Checks a tenant's signed request, in order: the headers and the replay window (401), the
 * registry (403: unknown, revoked), the body size (413), the signature (403). Signatures v1
 * are accepted only where `allowV1` says (ingest and the key upgrade) and only until
 * SNAPPY_V1_UNTIL. Returns the request or the refusal to send.
 */
export async function authenticate(req: Request, env: Env, stores: Stores, opts: { maxBytes: number; allowV1?: boolean; now?: number }): Promise<AuthedRequest | Response> {
  const now = opts.now ?? Date.now();
  const windowMs = replayWindowMs(env);
  const tenant = req.headers.get(HEADER_TENANT);
  const tsText = req.headers.get(HEADER_TIMESTAMP);
  const signature = req.headers.get(HEADER_SIGNATURE);
  const missing = [!tenant && HEADER_TENANT, !tsText && HEADER_TIMESTAMP, !signature && HEADER_SIGNATURE].filter(Boolean);
  if (missing.length) return fail(401, `missing header(s) ${missing.join(', ')}: this route needs a request signed by an admitted tenant (docs/worker.md "Authentication")`);
  if (!isTenantId(tenant)) return fail(401, `${HEADER_TENANT}: ${JSON.stringify(tenant)} is not a tenant id (12 lower-case hex)`);
  const ts = Number(tsText);
  if (!/^\d{1,16}$/.test(tsText!) || !Number.isSafeInteger(ts)) return fail(401, `${HEADER_TIMESTAMP}: ${JSON.stringify(tsText)} is not epoch milliseconds`);
  const skew = now - ts;
  if (Math.abs(skew) > windowMs) return fail(401, `${HEADER_TIMESTAMP} is ${Math.round(skew / 1000)} s off the Worker's clock, outside the ±${windowMs / 1000} s window: a replayed request, or this machine's clock is wrong`);
  const version = req.headers.get(HEADER_AUTH) === AUTH_VERSION ? 'v2' : 'v1';
  if (version === 'v1') {
    if (!opts.allowV1) return fail(401, `this route takes signatures ${AUTH_VERSION} only (header ${HEADER_AUTH}: ${AUTH_VERSION}); upgrade snappy on this machine`);
    const until = v1Until(env);
    if (now > until) return fail(401, `signatures v1 are retired on this Worker${until ? ` since ${new Date(until).toISOString()}` : ''}: upgrade snappy on this machine (it signs v2), and if it was admitted with a v1 ingest key, hand \`snappy ops key\` output to the operator`);
  }
  const { blobs, kv } = stores;
  let record = await getTenant(blobs, tenant);
  if (!record && version === 'v1') record = await migrateLegacyTenant(blobs, kv, tenant);
  if (!record) return fail(403, `tenant ${tenant} is not admitted: hand \`snappy ops key\` output to the operator (snappy ops tenants admit)`, {}, 'E_NOT_ADMITTED');
  if (record.revokedAt) return fail(403, `tenant ${tenant} was revoked at ${record.revokedAt}: ask the operator`, {}, 'E_REVOKED');
  // A rotated key is refused whoever holds it: that is what rotating a leaked key is for.
  if (record.rotatedTo) return fail(403, `tenant ${tenant}'s key was retired at ${record.rotatedAt} by ${record.rotatedBy}: the tenant moved to a new master key (tenant ${record.rotatedTo}); set SNAPPY_MASTER_KEY to the new key on this machine (docs/operate.md "Rotate a key")`, {}, 'E_ROTATED');
  // The registry's own rule, last: a standing it learns later is refused here before it has a message of its own.
  if (!isAdmitted(record)) return fail(403, `tenant ${tenant} is not admitted`, {}, 'E_NOT_ADMITTED');
  const body = await readLimited(req, opts.maxBytes);
  if (!body) return fail(413, `body is larger than the limit of ${opts.maxBytes} bytes`, { 'x-snappy-limit-bytes': String(opts.maxBytes) });
  const url = new URL(req.url);
  if (version === 'v2') {
    if (!record.publicKey) return fail(403, `tenant ${tenant} has no v2 public key registered: a v1 tenant upgrades with \`snappy run push\` (it registers its key while the v1 window is open), or the operator admits \`snappy ops key\` output`, { 'x-snappy-rekey': '1' });
    const parts = { method: req.method, path: url.pathname, query: url.search.slice(1), bodyHash: await bodyHashOf(body), timestamp: ts, tenant };
    if (!(await verifyRequest(record.publicKey, parts, signature!))) return fail(403, `${HEADER_SIGNATURE} does not match: the request was not signed with tenant ${tenant}'s admitted key, or it was altered`);
  } else {
    if (!record.v1Key) return fail(403, `tenant ${tenant} has no v1 key: sign v2 (upgrade snappy)`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return fail(400, 'body is not valid UTF-8');
    }
    const expected = await signIngest(record.v1Key, tenant, ts, text);
    if (!timingSafeEqual(expected, signature!.toLowerCase())) return fail(403, `${HEADER_SIGNATURE} does not match: the batch was not signed with tenant ${tenant}'s admitted ingest key, or it was altered`);
  }
  return { tenant, record, version, body, signature: signature!, timestamp: ts };
}

/**
 * Runs a signed write at most once per signature: a replay inside the window gets the first
 * answer back and writes nothing. The answer is kept under the hour of the request's
 * timestamp; the tick deletes hours older than the window.
 */
export async function once(stores: Stores, auth: AuthedRequest, handle: () => Promise<Response>): Promise<Response> {
  const key = Remote.replay(auth.timestamp, await signatureId(auth.signature));
  const prior = await stores.blobs.get(key);
  if (prior) {
    try {
      const r = JSON.parse(new TextDecoder().decode(prior)) as { status: number; body: string };
      return new Response(r.body, { status: r.status, headers: { 'content-type': 'application/json; charset=utf-8', 'x-snappy-replay': '1', 'cache-control': 'no-store' } });
    } catch {
      // A torn record: answer afresh.
    }
  }
  const res = await handle();
  // Only what was done is remembered: a refusal writes nothing, and a replay of it is refused again.
  if (res.status >= 200 && res.status < 300) {
    const body = await res.clone().text();
    await stores.blobs.put(key, JSON.stringify({ status: res.status, body }), { ifAbsent: true, contentType: 'application/json' });
  }
  return res;
}

/** Deletes replay records of hours older than the window (run from the scheduled handler). */
export async function sweepReplays(stores: Stores, now: number, windowMs: number): Promise<number> {
  const keep = Remote.replayHour(now - windowMs - 3_600_000);
  let n = 0;
  for await (const o of stores.blobs.list(Remote.replayPrefix)) {
    if (o.key >= keep) break;
    await stores.blobs.delete(o.key);
    n++;
  }
  return n;
}
