import { ErrorCode, SnappyError } from '../core/errors.ts';
import { DEFAULT_TIMEOUTS, httpRequest } from '../adapters/http-client.ts';
import type { AuditEntry, TenantView } from '../domain/registry.ts';
import type { Removal } from '../domain/tenant-removal.ts';
import type { Rejection } from '../plugins/quorum/index.ts';
import type { OpsBackend } from './ops-backend.ts';

/** The operator's actions through a deployed Worker: `{url}/snappy-ops/api/...` with the ops token. */
export function workerBackend(url: string, token: string, timeouts: { connectTimeoutMs?: number; timeoutMs?: number } = {}): OpsBackend {
  const base = url.replace(/\/+$/, '');
  const t = { connectMs: timeouts.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs, responseMs: timeouts.timeoutMs ?? DEFAULT_TIMEOUTS.responseMs };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const route = `${method} ${base}/snappy-ops/api${path}`;
    const res = await httpRequest(`${base}/snappy-ops/api${path}`, {
      method,
      what: `ops ${path.split('/')[1] ?? ''}`,
      timeouts: t,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = res.body.toString('utf8');
    let data: { error?: string } & Record<string, unknown>;
    try {
      data = JSON.parse(text);
    } catch {
      throw new SnappyError(`${route}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`, { code: ErrorCode.Remote });
    }
    if (res.status < 200 || res.status >= 300) throw new SnappyError(`${route}: HTTP ${res.status}: ${data.error ?? text.slice(0, 200)}`, { code: typeof data.code === 'string' ? data.code : res.status === 400 ? ErrorCode.Usage : ErrorCode.Remote, status: res.status, details: { status: res.status } });
    return data as T;
  };
  const enc = encodeURIComponent;
  return {
    where: base,
    revs: () => call('GET', '/revs'),
    approve: (skill, rev, by, diff) => call('POST', `/revs/${enc(skill)}/${enc(rev)}/approve`, { ...(by ? { by } : {}), ...(diff ? { diff } : {}) }),
    reject: async (skill, rev, by, reason) => (await call<{ rejection: Rejection }>('POST', `/revs/${enc(skill)}/${enc(rev)}/reject`, { ...(by ? { by } : {}), reason })).rejection,
    watch: () => call('GET', '/watch'),
    rollback: (skill, rev, by, reason) => call('POST', `/skills/${enc(skill)}/rollback`, { ...(rev ? { rev } : {}), ...(by ? { by } : {}), reason }),
    mark: (action, skill, rev, by, reason) => call('POST', `/revs/${enc(skill)}/${enc(rev)}/${action}`, { ...(by ? { by } : {}), reason }),
    admit: async (tenant, key, by) => (await call<{ tenant: TenantView }>('POST', '/tenants', { tenant, key, ...(by ? { by } : {}) })).tenant,
    revoke: async (tenant, by) => (await call<{ revoked: boolean }>('DELETE', `/tenants/${enc(tenant)}`, by ? { by } : {})).revoked,
    remove: async (tenant, by) => (await call<{ removal: Removal }>('POST', `/tenants/${enc(tenant)}/remove`, by ? { by } : {})).removal,
    tenants: async () => (await call<{ tenants: TenantView[] }>('GET', '/tenants')).tenants,
    audit: async () => (await call<{ audit: AuditEntry[] }>('GET', '/audit')).audit,
    rotate: (from, to, key, by) => call('POST', `/tenants/${enc(from)}/rotate`, { to, key, ...(by ? { by } : {}) }),
    diff: (skill, rev) => call('GET', `/revs/${enc(skill)}/${enc(rev)}/diff`),
    alerts: () => call('GET', '/alerts'),
    ack: async (id, by) => (await call<{ acked: boolean }>('POST', `/alerts/${enc(id)}/ack`, by ? { by } : {})).acked,
    fleet: () => call('GET', '/fleet'),
  };
}
