import type { BlobStore, KV } from '../../core/ports.ts';
import type { QuorumOptions } from './options.ts';
import { approveRev, rejectRev } from './ops.ts';
import { admitTenant, auditLog, listTenants, revokeTenant, type AuditEntry, type TenantView } from './registry.ts';
import type { PromoteResult } from './promote.ts';
import { lastPromotion, manualReviewOf, revStatuses, type Rejection, type RevStatus } from './revs.ts';

/** The operator's actions, either straight on the remote or through the Worker's /snappy-ops API. */
export interface OpsBackend {
  readonly where: string;
  revs(): Promise<{ revs: RevStatus[]; last_quorum_promotion: Record<string, unknown> | null }>;
  /** `by` absent: the rev's `manual_review` name, else `fallbackBy`. */
  approve(skill: string, rev: string, by: string | undefined, fallbackBy: string): Promise<PromoteResult>;
  reject(skill: string, rev: string, by: string, reason: string): Promise<Rejection>;
  /** `key`: the public key `snappy ops key` prints. */
  admit(tenant: string, key: string, by: string): Promise<TenantView>;
  revoke(tenant: string, by: string): Promise<boolean>;
  tenants(): Promise<TenantView[]>;
  audit(): Promise<AuditEntry[]>;
}

/** Acts on the bucket and its KV directly (file://, s3://: KV is BlobKV under `snappy-kv/`). */
export function directBackend(blobs: BlobStore, kv: KV, opts: QuorumOptions): OpsBackend {
  return {
    where: blobs.url,
    revs: async () => ({ revs: await revStatuses(blobs, opts), last_quorum_promotion: await lastPromotion(kv) }),
    approve: async (skill, rev, by, fallbackBy) => approveRev(blobs, kv, skill, rev, by ?? (await manualReviewOf(blobs, skill, rev).catch(() => null)) ?? fallbackBy),
    reject: (skill, rev, by, reason) => rejectRev(blobs, skill, rev, by, reason),
    // Direct mode has no v1 signatures to migrate: only public keys are admitted.
    admit: (tenant, key, by) => admitTenant(blobs, tenant, key, by),
    revoke: (tenant, by) => revokeTenant(blobs, tenant, by),
    tenants: () => listTenants(blobs),
    audit: () => auditLog(blobs),
  };
}
