import { alertsFor, readAlertState } from '../domain/alerts.ts';
import { readSeen, readTickRecord } from '../domain/health.ts';
import { viewOf } from '../domain/registry.ts';
import { PROTOCOL, RELEASE } from '../domain/versions.ts';
import type { Stores } from './bindings.ts';
import type { Env } from './env.ts';
import { json } from './http.ts';
import type { AuthedRequest } from './tenant-auth.ts';
import { replayWindowMs } from './tenant-auth.ts';

/**
 * GET /v1/whoami (signed): what the Worker knows of the tenant that asks, for `snappy doctor`:
 * its registry record (public key, former ids), when it was last seen and shipped, the Worker's
 * clock and last tick, and the open alerts that concern it. A key that is not admitted, revoked or retired never gets here: the
 * refusal (403, with a code) is the answer.
 */
export async function whoami(a: AuthedRequest, env: Env, stores: Stores): Promise<Response> {
  const [seen, tick, alerts] = await Promise.all([readSeen(stores.blobs, a.tenant).catch(() => null), readTickRecord(stores.blobs).catch(() => null), readAlertState(stores.blobs).catch(() => null)]);
  return json({
    ok: true,
    tenant: a.tenant,
    record: viewOf(a.record),
    seen,
    lastTick: tick,
    // The fleet's alerts and this tenant's own; never another tenant's.
    alerts: alerts ? alertsFor(alerts, a.tenant) : [],
    worker: RELEASE,
    protocol: PROTOCOL,
    now: Date.now(),
    windowMs: replayWindowMs(env),
  });
}
