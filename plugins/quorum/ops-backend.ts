import type { BlobStore, KV } from '../../core/ports.ts';
import type { QuorumOptions } from './options.ts';
import { admitTenant, approveRev, listTenants, rejectRev, revokeTenant, type TenantRecord } from './ops.ts';
import type { PromoteResult } from './promote.ts';
import { lastPromotion, manualReviewOf, revStatuses, type Rejection, type RevStatus } from './revs.ts';

/** The operator's actions, either straight on the remote or through the Worker's /snappy-ops API. */
export interface OpsBackend {
  readonly where: string;
  revs(): Promise<{ revs: RevStatus[]; last_quorum_promotion: Record<string, unknown> | null }>;
  /** `by` absent: the rev's `manual_review` name, else `fallbackBy`. */
  approve(skill: string, rev: string, by: string | undefined, fallbackBy: string): Promise<PromoteResult>;
  reject(skill: string, rev: string, by: string, reason: string): Promise<Rejection>;
  admit(tenant: string, ingestKey: string, by: string): Promise<TenantRecord>;
  revoke(tenant: string): Promise<boolean>;
  tenants(): Promise<{ tenant: string; admittedAt: string; by: string }[]>;
}

/** Acts on the bucket and its KV directly (file://, s3://: KV is BlobKV under `snappy-kv/`). */
export function directBackend(blobs: BlobStore, kv: KV, opts: QuorumOptions): OpsBackend {
  return {
    where: blobs.url,
    revs: async () => ({ revs: await revStatuses(blobs, opts), last_quorum_promotion: await lastPromotion(kv) }),
    approve: async (skill, rev, by, fallbackBy) => approveRev(blobs, kv, skill, rev, by ?? (await manualReviewOf(blobs, skill, rev).catch(() => null)) ?? fallbackBy),
    reject: (skill, rev, by, reason) => rejectRev(blobs, skill, rev, by, reason),
    admit: (tenant, key, by) => admitTenant(kv, tenant, key, by),
    revoke: (tenant) => revokeTenant(kv, tenant),
    tenants: () => listTenants(kv),
  };
}

/** Acts through a deployed Worker: `{url}/snappy-ops/api/...` with the ops token. */
export function workerBackend(url: string, token: string, fetchFn: typeof fetch = fetch): OpsBackend {
  const base = url.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetchFn(`${base}/snappy-ops/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let data: { error?: string } & Record<string, unknown>;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${base}/snappy-ops/api${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) throw new Error(`${method} ${base}/snappy-ops/api${path}: HTTP ${res.status}: ${data.error ?? text.slice(0, 200)}`);
    return data as T;
  };
  const enc = encodeURIComponent;
  return {
    where: base,
    revs: () => call('GET', '/revs'),
    approve: (skill, rev, by, fallbackBy) => call('POST', `/revs/${enc(skill)}/${enc(rev)}/approve`, { ...(by ? { by } : {}), fallbackBy }),
    reject: async (skill, rev, by, reason) => (await call<{ rejection: Rejection }>('POST', `/revs/${enc(skill)}/${enc(rev)}/reject`, { by, reason })).rejection,
    admit: async (tenant, ingestKey, by) => (await call<{ tenant: TenantRecord }>('POST', '/tenants', { tenant, ingestKey, by })).tenant,
    revoke: async (tenant) => (await call<{ revoked: boolean }>('DELETE', `/tenants/${enc(tenant)}`)).revoked,
    tenants: async () => (await call<{ tenants: { tenant: string; admittedAt: string; by: string }[] }>('GET', '/tenants')).tenants,
  };
}
