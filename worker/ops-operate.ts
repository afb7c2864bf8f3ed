import { alertLog, ackAlert, readAlertState } from '../domain/alerts.ts';
import { listSeen, readTickRecord } from '../domain/health.ts';
import { listTenants } from '../domain/registry.ts';
import { readLayout } from '../domain/remote-version.ts';
import { revDiff } from '../domain/rev-diff.ts';
import { rotateTenant } from '../domain/rotation.ts';
import { PROTOCOL, RELEASE } from '../domain/versions.ts';
import type { QuorumService } from '../plugins/quorum/index.ts';
import type { Stores } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json } from './http.ts';
import { minClientProtocol } from './versions.ts';
import { webhookOf } from './alerts.ts';

/** What an ops route needs: the parsed path, the body, the operator's name as recorded. */
export interface OpsCall {
  method: string;
  parts: string[];
  body(): Promise<Record<string, unknown>>;
  str(v: unknown, name: string, required?: boolean): string | undefined;
  /** The acting operator: the named token's, or `by` with a shared token. */
  operator(by: string | undefined): string;
}

/**
 * The operator's day beyond revs and admissions (docs/operate.md), under /snappy-ops/api/:
 *   GET  fleet                         tenants with their last request and release, releases in use, the Worker's versions, the last tick
 *   POST tenants/<old>/rotate          {to, key, by?}  move a tenant to a new master key (domain/rotation.ts)
 *   GET  alerts                        open alerts, acknowledged ones, the last webhook call, the recent log
 *   POST alerts/<id>/ack               {by?}  close an alert while its condition lasts
 *   GET  revs/<skill>/<rev>/diff       the rev against the canonical it would replace, with the diff's id
 *   GET  skills                        per skill: the canonical's history, scores per day, quorum and watch progress, tenants in counts
 * Null when the route is not one of these.
 */
export async function handleOperate(call: OpsCall, env: Env, { blobs, kv }: Stores, quorum: QuorumService | undefined): Promise<Response | null> {
  const { method, parts } = call;
  if (parts[0] === 'fleet' && parts.length === 1 && method === 'GET') {
    const [tenants, seen, tick, layout] = await Promise.all([listTenants(blobs), listSeen(blobs), readTickRecord(blobs), readLayout(blobs).catch(() => null)]);
    const releases: Record<string, number> = {};
    const rows = tenants.map((t) => {
      const s = seen.get(t.tenant) ?? null;
      if (t.admitted) {
        const label = s ? `${s.client ?? 'unnamed (before protocols)'} protocol ${s.protocol}` : 'never seen';
        releases[label] = (releases[label] ?? 0) + 1;
      }
      return { ...t, seen: s };
    });
    return json({ ok: true, worker: { release: RELEASE, protocol: PROTOCOL, minClientProtocol: minClientProtocol(env) }, layout: layout?.layout ?? null, lastTick: tick, releases, tenants: rows });
  }
  if (parts[0] === 'tenants' && parts.length === 3 && parts[2] === 'rotate' && method === 'POST') {
    const b = await call.body();
    const r = await rotateTenant(blobs, parts[1]!, call.str(b.to, 'to')!, call.str(b.key, 'key')!, call.operator(call.str(b.by, 'by', false)));
    return json({ ok: true, ...r });
  }
  if (parts[0] === 'alerts' && parts.length === 1 && method === 'GET') {
    const [state, log] = await Promise.all([readAlertState(blobs), alertLog(blobs, 50)]);
    return json({ ok: true, open: Object.values(state.open), acked: state.acked, pending: state.outbox.length, webhook: { configured: !!webhookOf(env), last: state.webhook ?? null }, log });
  }
  if (parts[0] === 'alerts' && parts.length === 3 && parts[2] === 'ack' && method === 'POST') {
    const b = await call.body();
    return json({ ok: true, acked: await ackAlert(blobs, parts[1]!, call.operator(call.str(b.by, 'by', false))) });
  }
  if (parts[0] === 'skills' && parts.length === 1 && method === 'GET') {
    if (!quorum) return fail(503, 'this Worker runs without the quorum plugin (config builtins): there are no skills to show');
    return json({ ok: true, skills: await quorum.skills({ blobs, kv }) });
  }
  if (parts[0] === 'revs' && parts.length === 4 && parts[3] === 'diff' && method === 'GET') {
    const d = await revDiff(blobs, parts[1]!, parts[2]!);
    const approval = quorum ? await quorum.approval(blobs, parts[1]!, parts[2]!) : null;
    return json({ ok: true, ...d, approval });
  }
  return null;
}
