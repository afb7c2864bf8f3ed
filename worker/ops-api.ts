import { ErrorCode, SnappyError } from '../core/errors.ts';
import { admitTenant, auditLog, listTenants, revokeTenant } from '../domain/registry.ts';
import { removeTenant } from '../domain/tenant-removal.ts';
import type { QuorumService } from '../plugins/quorum/index.ts';
import { v1Until } from './tenant-auth.ts';
import { opsAuth, type Operator } from './auth.ts';
import { consoleLogger } from './runner.ts';
import { storesOf } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json, readLimited } from './http.ts';
import { handleOperate } from './ops-operate.ts';

/**
 * /snappy-ops/api/...: the operator's JSON API (every route needs the ops token).
 *   GET    revs                              staged revs with progress, last_quorum_promotion
 *   POST   revs/<skill>/<rev>/approve        {by?}  promote now (by: the named token's operator, or required)
 *   POST   revs/<skill>/<rev>/reject         {by?, reason?}
 *   POST   revs/<skill>/<rev>/clear|pin|unpin {by?, reason?}  lift a rollback's mark; pin or unpin a rev
 *   POST   revs/<skill>/<rev>/revive         {by?, reason?}  reopen an expired rev (its expiry clock starts over)
 *   GET    watch                             promotions under watch with their objections, pins, rollbacks, last_quorum_rollback
 *   POST   skills/<skill>/rollback           {by?, rev?, reason?}  restore what the canonical page replaced (only while `rev` is canonical)
 *   GET    tenants                           every tenant in the registry (public keys only)
 *   POST   tenants                           {tenant, key, by}  admit (or admit again, or replace the key)
 *   DELETE tenants/<tenant>                   {by}  revoke
 *   POST   tenants/<tenant>/remove            {by}  delete a revoked tenant's data, a bounded step: again until `removal.done`
 *   GET    audit                             admissions, revocations and key changes, newest first
 * and the operator's day beyond these (fleet, rotation, alerts, diffs): worker/ops-operate.ts.
 */
export async function handleOpsApi(req: Request, env: Env, path: string, quorum: QuorumService | undefined): Promise<Response> {
  const op = await opsAuth(req, env);
  if (op instanceof Response) return op;
  const { blobs, kv } = storesOf(env);
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    // decodeURIComponent throws on a malformed escape such as `%E0%A4%A`: the caller's mistake, not ours.
    return fail(400, `malformed percent-encoding in /snappy-ops/api/${path.slice(0, 200)}`);
  }
  const body = async (): Promise<Record<string, unknown>> => {
    if (req.method === 'GET') return {};
    const bytes = await readLimited(req, 64 * 1024);
    if (!bytes) throw badRequest('request body larger than 64 KiB');
    if (!bytes.length) return {};
    try {
      const v = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch {
      throw badRequest('request body must be a JSON object');
    }
  };
  const str = (v: unknown, name: string, required = true): string | undefined => {
    if (v === undefined || v === null || v === '') {
      if (required) throw badRequest(`"${name}" is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw badRequest(`"${name}" must be a string`);
    return v;
  };
  const operate = await handleOperate({ method: req.method, parts, body, str, operator: (by) => operatorName(op, by) }, env, { blobs, kv }, quorum);
  if (operate) return operate;
  if ((parts[0] === 'revs' || parts[0] === 'watch' || parts[0] === 'skills') && !quorum) return fail(503, 'this Worker runs without the quorum plugin (config builtins): there are no revs to act on');
  if (parts[0] === 'revs' && parts.length === 1 && req.method === 'GET') {
    return json({ ok: true, revs: await quorum!.revs(blobs), last_quorum_promotion: await quorum!.lastPromotion(kv) });
  }
  if (parts[0] === 'revs' && parts.length === 4 && req.method === 'POST') {
    const [, skill, rev, action] = parts as [string, string, string, string];
    const b = await body();
    if (action === 'approve') {
      const diff = str(b.diff, 'diff', false);
      return json({ ok: true, ...(await quorum!.approve({ blobs, kv }, skill, rev, operatorName(op, str(b.by, 'by', false)), consoleLogger, diff === undefined ? {} : { diff })) });
    }
    if (action === 'reject') return json({ ok: true, rejection: await quorum!.reject(blobs, skill, rev, operatorName(op, str(b.by, 'by', false)), str(b.reason, 'reason', false) ?? '') });
    if (action === 'clear') return json({ ok: true, ...(await quorum!.clear({ blobs, kv }, skill, rev, operatorName(op, str(b.by, 'by', false)), str(b.reason, 'reason', false) ?? '', consoleLogger)) });
    if (action === 'revive') return json({ ok: true, ...(await quorum!.revive({ blobs, kv }, skill, rev, operatorName(op, str(b.by, 'by', false)), str(b.reason, 'reason', false) ?? '', consoleLogger)) });
    if (action === 'pin' || action === 'unpin') return json({ ok: true, ...(await quorum!.pin({ blobs, kv }, skill, rev, action === 'pin', operatorName(op, str(b.by, 'by', false)), str(b.reason, 'reason', false) ?? '', consoleLogger)) });
  }
  if (parts[0] === 'watch' && parts.length === 1 && req.method === 'GET') return json({ ok: true, ...(await quorum!.watch({ blobs, kv })) });
  if (parts[0] === 'skills' && parts.length === 3 && parts[2] === 'rollback' && req.method === 'POST') {
    const b = await body();
    const rev = str(b.rev, 'rev', false);
    return json({ ok: true, ...(await quorum!.rollback({ blobs, kv }, parts[1]!, operatorName(op, str(b.by, 'by', false)), { ...(rev ? { rev } : {}), reason: str(b.reason, 'reason', false) ?? '' }, consoleLogger)) });
  }
  if (parts[0] === 'tenants' && parts.length === 1) {
    if (req.method === 'GET') return json({ ok: true, tenants: await listTenants(blobs) });
    if (req.method === 'POST') {
      const b = await body();
      const tenant = str(b.tenant, 'tenant')!;
      // `ingestKey` is the field's name before signatures v2.
      const key = str(b.key ?? b.ingestKey, 'key')!;
      return json({ ok: true, tenant: await admitTenant(blobs, tenant, key, operatorName(op, str(b.by, 'by', false)), { v1Open: Date.now() <= v1Until(env) }) });
    }
  }
  if (parts[0] === 'tenants' && parts.length === 2 && req.method === 'DELETE') {
    const b = await body();
    return json({ ok: true, revoked: await revokeTenant(blobs, parts[1]!, operatorName(op, str(b.by, 'by', false))) });
  }
  if (parts[0] === 'tenants' && parts.length === 3 && parts[2] === 'remove' && req.method === 'POST') {
    const b = await body();
    return json({ ok: true, removal: await removeTenant(blobs, parts[1]!, operatorName(op, str(b.by, 'by', false))) });
  }
  if (parts[0] === 'audit' && parts.length === 1 && req.method === 'GET') return json({ ok: true, audit: await auditLog(blobs) });
  return fail(404, `no ops route ${req.method} /snappy-ops/api/${parts.join('/')}`);
}

/** A request the operator got wrong (HTTP 400); the routes answer it with its message and code. */
function badRequest(message: string): SnappyError {
  return new SnappyError(message, { code: ErrorCode.Usage, status: 400 });
}



/**
 * Who acts, as recorded: a named token is its operator (a `by` naming someone else is refused);
 * with the single OPS_TOKEN the operator must name themself in `by`. Never the page author's
 * `manual_review` name: authors ask for review, operators give it.
 */
function operatorName(op: Operator, by: string | undefined): string {
  if (op.named) {
    if (by !== undefined && by !== op.name) throw badRequest(`by: this token is ${op.name}'s; it acts as ${op.name}, not as ${JSON.stringify(by)}`);
    return op.name;
  }
  if (by === undefined) throw badRequest('by: name the operator who acts (`--by NAME`); with one shared OPS_TOKEN the Worker cannot tell operators apart (OPS_TOKENS gives each a token)');
  return by;
}
