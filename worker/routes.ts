import { INGEST_PATH } from '../domain/ingest-protocol.ts';
import type { QuorumOptions } from '../plugins/quorum/options.ts';
import type { Runner } from '../core/runner.ts';
import { opsRefusal } from './auth.ts';
import type { Env, ExecCtx } from './env.ts';
import { fail, html } from './http.ts';
import { handleIngest } from './ingest.ts';
import { handleOpsApi } from './ops-api.ts';
import { OPS_CSS, OPS_JS, OPS_PAGE } from './ops-page.ts';
import { listCanonical, pullAggregate, pullCanonical, status } from './pull.ts';

/** What the routes need from the app. */
export interface RouteDeps {
  runner: Runner;
  quorum: QuorumOptions;
  tick(env: Env, only?: readonly string[]): Promise<Record<string, unknown>>;
}

/** The Worker's HTTP routes (docs/worker.md "Routes"). */
export async function route(req: Request, env: Env, ctx: ExecCtx, deps: RouteDeps): Promise<Response> {
  const url = new URL(req.url);
  const p = url.pathname;
  const m = req.method;
  try {
    if (p === INGEST_PATH) return m === 'POST' ? await handleIngest(req, env, ctx, (only) => deps.tick(env, only)) : fail(405, `${p} takes POST`, { allow: 'POST' });
    if (p === '/v1/status' && m === 'GET') return await status(env, deps.quorum);
    if (p === '/v1/aggregate' && m === 'GET') return await pullAggregate(url, env);
    if (p === '/v1/canonical' && m === 'GET') return await listCanonical(env);
    if (p.startsWith('/v1/canonical/') && m === 'GET') {
      let skill: string;
      try {
        skill = decodeURIComponent(p.slice('/v1/canonical/'.length));
      } catch {
        return fail(400, `malformed percent-encoding in ${p.slice(0, 200)}`);
      }
      return await pullCanonical(skill, env);
    }
    if (p === '/snappy-ops/app.js') return new Response(OPS_JS, { headers: { 'content-type': 'application/javascript; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    if (p === '/snappy-ops/app.css') return new Response(OPS_CSS, { headers: { 'content-type': 'text/css; charset=utf-8', 'x-content-type-options': 'nosniff' } });
    if (p === '/snappy-ops' || p === '/snappy-ops/') {
      // The page holds no data; without a valid token it still renders (status 401/403) so the operator can enter one.
      const refused = opsRefusal(req, env);
      const page = html(OPS_PAGE);
      return refused ? new Response(page.body, { status: refused.status, headers: page.headers }) : page;
    }
    if (p.startsWith('/snappy-ops/api/')) return await handleOpsApi(req, env, p.slice('/snappy-ops/api/'.length), deps.quorum);
    if (p === '/' && m === 'GET') return new Response('snappy Worker: POST /v1/ingest, GET /v1/status, /v1/aggregate, /v1/canonical/<skill>, /snappy-ops\n');
    return fail(404, `no route for ${m} ${p}`);
  } catch (err) {
    console.error(`${m} ${p} failed: ${(err as Error).stack ?? err}`);
    return fail(500, `internal error: ${(err as Error).message}`);
  }
}
