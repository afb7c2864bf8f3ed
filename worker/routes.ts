import { HEADER_SIGNATURE } from '../domain/auth.ts';
import { INGEST_PATH } from '../domain/ingest-protocol.ts';
import { STAGE_LIMITS } from '../domain/staged-rev.ts';
import { isSnappyError } from '../core/errors.ts';
import type { Runner } from '../core/runner.ts';
import { rekeyTenant } from '../domain/registry.ts';
import type { QuorumService } from '../plugins/quorum/index.ts';
import { opsAuth } from './auth.ts';
import { storesOf } from './bindings.ts';
import { envInt, type Env, type ExecCtx } from './env.ts';
import { fail, html, json } from './http.ts';
import { handleIngest, ingestLimits, rateLimited } from './ingest.ts';
import { changes, DEFAULT_OBJECT_MAX_BYTES, listObjects, readObject, stage, writeObject } from './objects.ts';
import { handleOpsApi } from './ops-api.ts';
import { OPS_CSS, OPS_JS, OPS_PAGE } from './ops-page.ts';
import { OPS_SKILLS_JS } from './ops-skills.ts';
import { listCanonical, pullAggregate, pullCanonical, status } from './pull.ts';
import { authenticate, once, type AuthedRequest } from './tenant-auth.ts';
import { noteSeen } from './seen.ts';
import { protocolGate, stamp, versionInfo } from './versions.ts';
import { whoami } from './whoami.ts';

/** What the routes need from the app. */
export interface RouteDeps {
  runner: Runner;
  /** The quorum plugin's service; undefined when the config leaves the plugin out. */
  quorum: QuorumService | undefined;
  tick(env: Env, only?: readonly string[]): Promise<Record<string, unknown>>;
}

/** The Worker's HTTP routes (docs/worker.md "Routes"), behind the protocol check; every answer names the Worker's protocol. */
export async function route(req: Request, env: Env, ctx: ExecCtx, deps: RouteDeps): Promise<Response> {
  return stamp(protocolGate(req, env, new URL(req.url).pathname) ?? (await dispatch(req, env, ctx, deps)));
}

async function dispatch(req: Request, env: Env, ctx: ExecCtx, deps: RouteDeps): Promise<Response> {
  const url = new URL(req.url);
  const p = url.pathname;
  const m = req.method;
  const stores = storesOf(env);
  /** Runs `handle` for a tenant's signed request, or answers the refusal. */
  const signed = async (maxBytes: number, handle: (a: AuthedRequest) => Promise<Response>, allowV1 = false): Promise<Response> => {
    const a = await authenticate(req, env, stores, { maxBytes, allowV1 });
    if (a instanceof Response) return a;
    const res = await handle(a);
    if (res.status < 300) ctx.waitUntil(noteSeen(stores, a.tenant, req, { ingest: p === INGEST_PATH }).catch((err: Error) => console.warn(`noting tenant ${a.tenant} as seen failed: ${err.message}`)));
    return res;
  };
  try {
    if (p === INGEST_PATH) {
      if (m !== 'POST') return fail(405, `${p} takes POST`, { allow: 'POST' });
      const limits = ingestLimits(env);
      const declared = Number(req.headers.get('content-length') ?? '0');
      if (declared > limits.bytes) return fail(413, `body of ${declared} bytes is larger than the limit of ${limits.bytes} bytes: split the batch`, { 'x-snappy-limit-bytes': String(limits.bytes) });
      return await signed(
        limits.bytes,
        // With a declared single writer, only the cron ticks: no second tick at ingest to race it.
        async (a) => (await rateLimited(env, a.tenant)) ?? once(stores, a, () => handleIngest(a, env, stores, !deps.quorum || deps.quorum.options.singleWriter ? null : (only) => deps.tick(env, only), (x) => ctx.waitUntil(x))),
        true,
      );
    }
    if (p === '/v1/version' && m === 'GET') return await versionInfo(env, stores);
    if (p === '/v1/whoami' && m === 'GET') return await signed(0, (a) => whoami(a, env, stores));
    if (p === '/v1/limits' && m === 'GET') return json({ ok: true, ingest: ingestLimits(env), objectBytes: objectMax(env), stage: STAGE_LIMITS });
    if (p === '/v1/object') {
      if (m === 'GET' || m === 'HEAD') return await signed(0, (a) => readObject(req, url, a, stores));
      const quorum = deps.quorum;
      const onPage = quorum ? (tenant: string, skill: string, bytes: Uint8Array) => quorum.notePage(stores.blobs, tenant, skill, bytes, Date.now()) : undefined;
      if (m === 'PUT') return await signed(objectMax(env), (a) => once(stores, a, () => writeObject(url, req, a, stores, objectMax(env), onPage)));
      return fail(405, `${p} takes GET, HEAD or PUT`, { allow: 'GET, HEAD, PUT' });
    }
    if (p === '/v1/objects' && m === 'GET') return await signed(0, (a) => listObjects(url, a, stores));
    if (p === '/v1/changes' && m === 'GET') return await signed(0, (a) => changes(url, a, stores));
    if (p === '/v1/stage' && m === 'POST') return await signed(Math.ceil(STAGE_LIMITS.bytes * 1.4) + 64 * 1024, (a) => once(stores, a, () => stage(a, stores)));
    if (p === '/v1/tenant/key' && m === 'POST') {
      // The upgrade path of a tenant admitted with a v1 ingest key: signed v1, it registers its v2 public key.
      return await signed(4096, (a) => once(stores, a, () => registerKey(a, stores.blobs)), true);
    }
    if (p === '/v1/aggregate' && m === 'GET') {
      // Every tenant's rows: for tenants (signed) and the operator (ops token), never for anyone.
      if (req.headers.get(HEADER_SIGNATURE)) return await signed(0, () => pullAggregate(url, env));
      const op = await opsAuth(req, env);
      return op instanceof Response ? op : await pullAggregate(url, env);
    }
    if (p === '/v1/status' && m === 'GET') {
      if (req.headers.get(HEADER_SIGNATURE)) return await signed(0, () => status(env, deps.quorum, 'tenant'));
      if (req.headers.get('authorization')) {
        const op = await opsAuth(req, env);
        return op instanceof Response ? op : await status(env, deps.quorum, 'operator');
      }
      return await status(env, deps.quorum, 'public');
    }
    if (p === '/v1/canonical' && m === 'GET') return await listCanonical(env);
    if (p.startsWith('/v1/canonical/') && m === 'GET') {
      let skill: string;
      try {
        skill = decodeURIComponent(p.slice('/v1/canonical/'.length));
      } catch {
        return fail(400, `malformed percent-encoding in ${p.slice(0, 200)}`);
      }
      return await pullCanonical(skill, env, deps.quorum);
    }
    if (p === '/snappy-ops/app.js') return new Response(OPS_JS, { headers: { 'content-type': 'application/javascript; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    if (p === '/snappy-ops/skills.js') return new Response(OPS_SKILLS_JS, { headers: { 'content-type': 'application/javascript; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    if (p === '/snappy-ops/app.css') return new Response(OPS_CSS, { headers: { 'content-type': 'text/css; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    if (p === '/snappy-ops' || p === '/snappy-ops/') {
      // The page holds no data; without a valid token it still renders (status 401/403) so the operator can enter one.
      const op = await opsAuth(req, env);
      const page = html(OPS_PAGE);
      return op instanceof Response ? new Response(page.body, { status: op.status, headers: page.headers }) : page;
    }
    if (p.startsWith('/snappy-ops/api/')) return await handleOpsApi(req, env, p.slice('/snappy-ops/api/'.length), deps.quorum);
    if (p === '/' && m === 'GET') return new Response('snappy Worker: POST /v1/ingest, GET /v1/status, /v1/canonical/<skill>, signed tenant routes (docs/worker.md), /snappy-ops\n');
    return fail(404, `no route for ${m} ${p}`);
  } catch (err) {
    // A refusal with a status (a malformed name, an unknown tenant, an operator action that
    // conflicts with the rev's state) is the caller's to read; anything else is ours.
    if (isSnappyError(err) && err.status !== undefined && err.status < 500) return fail(err.status, err.message, {}, err.code);
    console.error(`${m} ${p} failed: ${(err as Error).stack ?? err}`);
    return fail(500, `internal error: ${(err as Error).message}`);
  }
}

function objectMax(env: Env): number {
  return envInt(env.SNAPPY_OBJECT_MAX_BYTES, DEFAULT_OBJECT_MAX_BYTES);
}

async function registerKey(a: AuthedRequest, blobs: import('../core/ports.ts').BlobStore): Promise<Response> {
  let publicKey: unknown;
  try {
    publicKey = (JSON.parse(new TextDecoder().decode(a.body)) as { publicKey?: unknown }).publicKey;
  } catch {
    return fail(400, 'body must be JSON: {publicKey}');
  }
  const view = await rekeyTenant(blobs, a.tenant, String(publicKey ?? ''));
  return json({ ok: true, tenant: view });
}
