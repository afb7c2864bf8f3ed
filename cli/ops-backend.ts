import { ErrorCode, SnappyError } from '../core/errors.ts';
import { systemClock, type Clock, type Logger } from '../core/ports.ts';
import { admitTenant, auditLog, listTenants, revokeTenant, type AuditEntry, type TenantView } from '../domain/registry.ts';
import type { Approval, MarkResult, PromoteResult, QuorumService, QuorumStores, Rejection, RevStatus, RollbackResult, WatchReport } from '../plugins/quorum/index.ts';
import { ackAlert, alertLog, readAlertState, type Alert } from '../domain/alerts.ts';
import { listSeen, readTickRecord, type SeenRecord, type TickRecord } from '../domain/health.ts';
import { readLayout } from '../domain/remote-version.ts';
import { revDiff, type RevDiff } from '../domain/rev-diff.ts';
import { rotateTenant } from '../domain/rotation.ts';
import { removeTenant, type Removal } from '../domain/tenant-removal.ts';

/** The operator's actions, either straight on the remote or through the Worker's /snappy-ops API. */
export interface OpsBackend {
  readonly where: string;
  revs(): Promise<{ revs: RevStatus[]; last_quorum_promotion: Record<string, unknown> | null }>;
  /**
   * `by`: the operator who acts. Absent: in direct mode the operator the CLI was given (the OS
   * user); through the Worker, the named token's operator (a shared OPS_TOKEN requires `by`).
   */
  approve(skill: string, rev: string, by?: string, diff?: string): Promise<PromoteResult & { approval?: Approval }>;
  reject(skill: string, rev: string, by: string | undefined, reason: string): Promise<Rejection>;
  /** Promotions under watch, pins, rollbacks. */
  watch(): Promise<WatchReport>;
  /** Rolls the skill's canonical back; with `rev`, only while that rev is canonical. */
  rollback(skill: string, rev: string | undefined, by: string | undefined, reason: string): Promise<RollbackResult>;
  /** Clears a rollback's mark, pins or unpins a rev, or revives an expired one. */
  mark(action: 'clear' | 'pin' | 'unpin' | 'revive', skill: string, rev: string, by: string | undefined, reason: string): Promise<MarkResult>;
  /** `key`: the public key `snappy ops key` prints. */
  admit(tenant: string, key: string, by?: string): Promise<TenantView>;
  revoke(tenant: string, by?: string): Promise<boolean>;
  /** Removes a revoked tenant's data, one bounded step per call: call again until `done`. */
  remove(tenant: string, by?: string): Promise<Removal>;
  tenants(): Promise<TenantView[]>;
  audit(): Promise<AuditEntry[]>;
  /** Moves tenant `from` to a new master key: `to` and `key` are what `snappy ops key` prints with the new key. */
  rotate(from: string, to: string, key: string, by?: string): Promise<{ from: TenantView; to: TenantView }>;
  /** A staged rev against the canonical it would replace, and its approval if it was approved. */
  diff(skill: string, rev: string): Promise<RevDiff & { approval: Approval | null }>;
  /** Open alerts, acknowledged ones, the last webhook call and the recent log. */
  alerts(): Promise<AlertsView>;
  ack(id: string, by?: string): Promise<boolean>;
  /** Every tenant with its last request and release; the releases in use; the last tick. */
  fleet(): Promise<FleetView>;
}

/** What `ops alerts` shows. */
export interface AlertsView {
  open: Alert[];
  acked: Record<string, { by: string; at: string }>;
  pending: number;
  webhook: { configured: boolean; last: { at: string; status?: number; ms: number; error?: string } | null };
  log: { ts: string; event: string; alert: Alert; by?: string }[];
}

/** What `ops fleet` shows. */
export interface FleetView {
  worker: { release: string; protocol: number; minClientProtocol: number } | null;
  layout: number | null;
  lastTick: TickRecord | null;
  releases: Record<string, number>;
  tenants: (TenantView & { seen: SeenRecord | null })[];
}

/**
 * Acts on the bucket and its KV directly (file://, s3://: KV is BlobKV under `snappy-kv/`).
 * `operator` is who acts when `by` is not given. An approval is a promotion: it is refused on
 * a store that ignores conditional writes unless a single writer is declared.
 */
export function directBackend(stores: QuorumStores, quorum: QuorumService | undefined, operator: string, log: Logger, clock: Clock = systemClock): OpsBackend {
  const { blobs } = stores;
  const q = (): QuorumService => {
    if (!quorum) throw new SnappyError('the quorum plugin is not configured (config builtins): there are no revs to act on', { code: ErrorCode.Config });
    return quorum;
  };
  return {
    where: blobs.url,
    revs: async () => ({ revs: await q().revs(blobs, clock.now()), last_quorum_promotion: await q().lastPromotion(stores.kv) }),
    approve: (skill, rev, by, diff) => q().approve(stores, skill, rev, by ?? operator, log, diff === undefined ? {} : { diff }),
    reject: (skill, rev, by, reason) => q().reject(blobs, skill, rev, by ?? operator, reason),
    watch: () => q().watch(stores),
    rollback: (skill, rev, by, reason) => q().rollback(stores, skill, by ?? operator, { ...(rev ? { rev } : {}), reason }, log),
    mark: (action, skill, rev, by, reason) => (action === 'revive' ? q().revive(stores, skill, rev, by ?? operator, reason, log, clock.now()) : action === 'clear' ? q().clear(stores, skill, rev, by ?? operator, reason, log) : q().pin(stores, skill, rev, action === 'pin', by ?? operator, reason, log)),
    // Direct mode has no v1 signatures to migrate: only public keys are admitted.
    admit: (tenant, key, by) => admitTenant(blobs, tenant, key, by ?? operator),
    revoke: (tenant, by) => revokeTenant(blobs, tenant, by ?? operator),
    remove: (tenant, by) => removeTenant(blobs, tenant, by ?? operator),
    tenants: () => listTenants(blobs),
    audit: () => auditLog(blobs),
    rotate: (from, to, key, by) => rotateTenant(blobs, from, to, key, by ?? operator),
    diff: async (skill, rev) => ({ ...(await revDiff(blobs, skill, rev)), approval: quorum ? await quorum.approval(blobs, skill, rev) : null }),
    alerts: async () => {
      const [state, log] = await Promise.all([readAlertState(blobs), alertLog(blobs, 50)]);
      // Direct mode has no webhook: the alerts are what `snappy run tick` recorded.
      return { open: Object.values(state.open), acked: state.acked, pending: state.outbox.length, webhook: { configured: false, last: state.webhook ?? null }, log };
    },
    ack: (id, by) => ackAlert(blobs, id, by ?? operator),
    fleet: async () => {
      const [tenants, seen, lastTick, layout] = await Promise.all([listTenants(blobs), listSeen(blobs), readTickRecord(blobs), readLayout(blobs)]);
      return { worker: null, layout: layout.layout, lastTick, releases: {}, tenants: tenants.map((t) => ({ ...t, seen: seen.get(t.tenant) ?? null })) };
    },
  };
}
