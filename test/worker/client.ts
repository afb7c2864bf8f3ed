import type { Miniflare } from 'miniflare';
import { AUTH_VERSION, bodyHashOf, HEADER_AUTH, HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, tenantSigner } from '../../domain/auth.ts';
import { ingestKeyOf, signIngest } from '../../domain/ingest-protocol.ts';
import type { Tenant } from '../plugins/quorum/fleet.ts';

export const OPS_TOKEN = 'test-ops-token-0123456789abcdef0123456789';
export const BASE = 'http://snappy.test';

/** What a test may break in a signed request. */
export interface Tamper {
  ts?: number;
  /** The tenant header sent (the signature still covers `t.id` unless `signTenant` says otherwise). */
  tenant?: string;
  signTenant?: string;
  signature?: string;
  /** Sign with this master key instead of the tenant's. */
  key?: string;
  omit?: string;
  /** Sign this body, send the real one. */
  signBody?: string;
  /** Sign this method / path / query instead of the real ones. */
  signMethod?: string;
  signPath?: string;
  signQuery?: string;
  /** Sign v1 (legacy HMAC over tenant, time, body) instead of v2. */
  v1?: boolean;
}

/** A signed request the way WorkerRemote sends it; `tamper` lets a test break one part. */
export async function signed(mf: Miniflare, t: Tenant, method: string, pathAndQuery: string, body: string | Uint8Array | undefined, tamper: Tamper = {}, extra: Record<string, string> = {}) {
  const url = new URL(pathAndQuery, BASE);
  const ts = tamper.ts ?? Date.now();
  const tenant = tamper.tenant ?? t.id;
  const headers: Record<string, string> = { ...extra, [HEADER_TENANT]: tenant, [HEADER_TIMESTAMP]: String(ts) };
  if (tamper.v1) {
    const key = await ingestKeyOf(tamper.key ?? t.masterKey);
    headers[HEADER_SIGNATURE] = tamper.signature ?? (await signIngest(key, tamper.signTenant ?? tenant, ts, tamper.signBody ?? (typeof body === 'string' ? body : new TextDecoder().decode(body ?? new Uint8Array()))));
  } else {
    headers[HEADER_AUTH] = AUTH_VERSION;
    const signer = await tenantSigner(tamper.key ?? t.masterKey, tamper.signTenant ?? tenant);
    headers[HEADER_SIGNATURE] =
      tamper.signature ??
      (await signer.sign({ method: tamper.signMethod ?? method, path: tamper.signPath ?? url.pathname, query: tamper.signQuery ?? url.search.slice(1), bodyHash: await bodyHashOf(tamper.signBody ?? body), timestamp: ts }));
  }
  if (tamper.omit) delete headers[tamper.omit];
  const res = await mf.dispatchFetch(url.toString(), { method, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}) });
  const text = method === 'HEAD' ? '' : await res.text();
  let json: Record<string, any> & { error?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (an object's bytes)
  }
  return { status: res.status, body: json, text, headers: res.headers };
}

/** POSTs a signed aggregate batch, as `snappy run push` does. */
export function ingest(mf: Miniflare, t: Tenant, body: string, tamper: Tamper = {}) {
  return signed(mf, t, 'POST', '/v1/ingest', body, tamper, { 'content-type': 'application/x-ndjson' });
}

export async function ops(mf: Miniflare, method: string, path: string, body?: unknown, token: string | null = OPS_TOKEN) {
  const res = await mf.dispatchFetch(`${BASE}/snappy-ops/api${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** The public key a tenant hands to the operator (`snappy ops key`). */
export async function publicKeyOf(t: Tenant): Promise<string> {
  return (await tenantSigner(t.masterKey, t.id)).publicKey;
}

export async function admit(mf: Miniflare, t: Tenant): Promise<void> {
  const r = await ops(mf, 'POST', '/tenants', { tenant: t.id, key: await publicKeyOf(t), by: 'test' });
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
