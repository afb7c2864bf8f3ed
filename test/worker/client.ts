import type { Miniflare } from 'miniflare';
import { HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, ingestKeyOf, signIngest } from '../../domain/ingest-protocol.ts';
import type { Tenant } from '../plugins/quorum/fleet.ts';

export const OPS_TOKEN = 'test-ops-token-0123456789';
export const BASE = 'http://snappy.test';

/**
 * POSTs a signed batch the way the sync plugin does; `tamper` lets a test break one part.
 * `signedBody`: sign that body and send `body` instead (a batch changed on its way).
 */
export async function ingest(mf: Miniflare, t: Tenant, body: string, tamper: { ts?: number; tenant?: string; signature?: string; key?: string; omit?: string; signedBody?: string } = {}) {
  const ts = tamper.ts ?? Date.now();
  const tenant = tamper.tenant ?? t.id;
  const key = tamper.key ?? (await ingestKeyOf(t.masterKey));
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', [HEADER_TENANT]: tenant, [HEADER_TIMESTAMP]: String(ts), [HEADER_SIGNATURE]: tamper.signature ?? (await signIngest(key, tenant, ts, tamper.signedBody ?? body)) };
  if (tamper.omit) delete headers[tamper.omit];
  const res = await mf.dispatchFetch(`${BASE}/v1/ingest`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: string } };
}

export async function ops(mf: Miniflare, method: string, path: string, body?: unknown, token: string | null = OPS_TOKEN) {
  const res = await mf.dispatchFetch(`${BASE}/snappy-ops/api${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

export async function admit(mf: Miniflare, t: Tenant): Promise<void> {
  const r = await ops(mf, 'POST', '/tenants', { tenant: t.id, ingestKey: await ingestKeyOf(t.masterKey), by: 'test' });
  if (r.status !== 200) throw new Error(`admit failed: ${JSON.stringify(r.body)}`);
}

/** Polls `check` until it returns a value (background work after a response has no completion signal). */
export async function eventually<T>(check: () => Promise<T | null | undefined>, what: string, limitMs = 20_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
