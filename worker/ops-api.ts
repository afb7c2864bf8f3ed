import type { QuorumOptions } from '../plugins/quorum/options.ts';
import { OpsError, approveRev, rejectRev } from '../plugins/quorum/ops.ts';
import { RegistryError, admitTenant, auditLog, listTenants, revokeTenant } from '../plugins/quorum/registry.ts';
import { v1Until } from './tenant-auth.ts';
import { assertExactlyOnce } from '../plugins/quorum/probe.ts';
import { lastPromotion, revStatuses } from '../plugins/quorum/revs.ts';
import { opsAuth, type Operator } from './auth.ts';
import { storesOf } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json, readLimited } from './http.ts';

/**
 * /snappy-ops/api/...: the operator's JSON API (every route needs the ops token).
 *   GET    revs                              staged revs with progress, last_quorum_promotion
 *   POST   revs/<skill>/<rev>/approve        {by?}  promote now (by: the named token's operator, or required)
 *   POST   revs/<skill>/<rev>/reject         {by?, reason?}
 *   GET    tenants                           every tenant in the registry (public keys only)
 *   POST   tenants                           {tenant, key, by}  admit (or admit again, or replace the key)
 *   DELETE tenants/<tenant>                   {by}  revoke
 *   GET    audit                             admissions, revocations and key changes, newest first
 */
export async function handleOpsApi(req: Request, env: Env, path: string, opts: QuorumOptions): Promise<Response> {
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
  try {
    const body = async (): Promise<Record<string, unknown>> => {
      if (req.method === 'GET') return {};
      const bytes = await readLimited(req, 64 * 1024);
      if (!bytes) throw new OpsError('request body larger than 64 KiB', 400);
      if (!bytes.length) return {};
      try {
        const v = JSON.parse(new TextDecoder().decode(bytes));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        return v as Record<string, unknown>;
      } catch {
        throw new OpsError('request body must be a JSON object', 400);
      }
    };
    const str = (v: unknown, name: string, required = true): string | undefined => {
      if (v === undefined || v === null || v === '') {
        if (required) throw new OpsError(`"${name}" is required`, 400);
        return undefined;
      }
      if (typeof v !== 'string') throw new OpsError(`"${name}" must be a string`, 400);
      return v;
    };
    if (parts[0] === 'revs' && parts.length === 1 && req.method === 'GET') {
      return json({ ok: true, revs: await revStatuses(blobs, opts), last_quorum_promotion: await lastPromotion(kv) });
    }
    if (parts[0] === 'revs' && parts.length === 4 && req.method === 'POST') {
      const [, skill, rev, action] = parts as [string, string, string, string];
      const b = await body();
      if (action === 'approve') {
        await assertExactlyOnce(blobs, opts.singleWriter, consoleLog);
        return json({ ok: true, ...(await approveRev(blobs, kv, skill, rev, operatorName(op, str(b.by, 'by', false)))) });
      }
      if (action === 'reject') return json({ ok: true, rejection: await rejectRev(blobs, skill, rev, operatorName(op, str(b.by, 'by', false)), str(b.reason, 'reason', false) ?? '') });
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
    if (parts[0] === 'audit' && parts.length === 1 && req.method === 'GET') return json({ ok: true, audit: await auditLog(blobs) });
    return fail(404, `no ops route ${req.method} /snappy-ops/api/${parts.join('/')}`);
  } catch (err) {
    if (err instanceof OpsError || err instanceof RegistryError) return fail(err.status, err.message);
    throw err;
  }
}

const consoleLog = { info: (m: string) => console.log(m), warn: (m: string) => console.warn(m), error: (m: string) => console.error(m), debug: () => {} };

/**
 * Who acts, as recorded: a named token is its operator (a `by` naming someone else is refused);
 * with the single OPS_TOKEN the operator must name themself in `by`. Never the page author's
 * `manual_review` name: authors ask for review, operators give it.
 */
function operatorName(op: Operator, by: string | undefined): string {
  if (op.named) {
    if (by !== undefined && by !== op.name) throw new OpsError(`by: this token is ${op.name}'s; it acts as ${op.name}, not as ${JSON.stringify(by)}`, 400);
    return op.name;
  }
  if (by === undefined) throw new OpsError('by: name the operator who acts (`--by NAME`); with one shared OPS_TOKEN the Worker cannot tell operators apart (OPS_TOKENS gives each a token)', 400);
  return by;
}
