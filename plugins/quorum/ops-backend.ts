import type { BlobStore, KV, Logger } from '../../core/ports.ts';
import { assertExactlyOnce } from './probe.ts';
import type { QuorumOptions } from './options.ts';
import { approveRev, rejectRev } from './ops.ts';
import { admitTenant, auditLog, listTenants, revokeTenant, type AuditEntry, type TenantView } from './registry.ts';
import type { PromoteResult } from './promote.ts';
import { lastPromotion, revStatuses, type Rejection, type RevStatus } from './revs.ts';

/** The operator's actions, either straight on the remote or through the Worker's /snappy-ops API. */
export interface OpsBackend {
  readonly where: string;
  revs(): Promise<{ revs: RevStatus[]; last_quorum_promotion: Record<string, unknown> | null }>;
  /**
   * `by`: the operator who acts. Absent: in direct mode the operator the CLI was given (the OS
   * user); through the Worker, the named token's operator (a shared OPS_TOKEN requires `by`).
   */
  approve(skill: string, rev: string, by?: string): Promise<PromoteResult>;
  reject(skill: string, rev: string, by: string | undefined, reason: string): Promise<Rejection>;
  /** `key`: the public key `snappy ops key` prints. */
  admit(tenant: string, key: string, by?: string): Promise<TenantView>;
  revoke(tenant: string, by?: string): Promise<boolean>;
  tenants(): Promise<TenantView[]>;
  audit(): Promise<AuditEntry[]>;
}

/**
 * Acts on the bucket and its KV directly (file://, s3://: KV is BlobKV under `snappy-kv/`).
 * `operator` is who acts when `by` is not given. An approval is a promotion: it is refused on
 * a store that ignores conditional writes unless a single writer is declared.
 */
export function directBackend(blobs: BlobStore, kv: KV, opts: QuorumOptions, operator: string, log: Logger): OpsBackend {
  return {
    where: blobs.url,
    revs: async () => ({ revs: await revStatuses(blobs, opts), last_quorum_promotion: await lastPromotion(kv) }),
    approve: async (skill, rev, by) => {
      await assertExactlyOnce(blobs, opts.singleWriter, log);
      return approveRev(blobs, kv, skill, rev, by ?? operator);
    },
    reject: (skill, rev, by, reason) => rejectRev(blobs, skill, rev, by ?? operator, reason),
    // Direct mode has no v1 signatures to migrate: only public keys are admitted.
    admit: (tenant, key, by) => admitTenant(blobs, tenant, key, by ?? operator),
    revoke: (tenant, by) => revokeTenant(blobs, tenant, by ?? operator),
    tenants: () => listTenants(blobs),
    audit: () => auditLog(blobs),
  };
}
