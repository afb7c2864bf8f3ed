import type { BlobStore, KV, Logger } from '../../core/ports.ts';
import type { MarkResult } from './marks.ts';
import { approvalOf, approveRev, clearRev, pinRev, rejectRev, reviveExpired, rollbackSkill, type Approval } from './ops.ts';
import { type QuorumOptions, watchOptionsFor } from './options.ts';
import { assertExactlyOnce } from './probe.ts';
import { KvKeys, type PromoteResult } from './promote.ts';
import { lastPromotion, lastRollback, revStatuses, type Rejection, type RevStatus } from './revs.ts';
import type { RollbackResult } from './rollback.ts';
import { skillViews, type SkillView } from './skill-view.ts';
import { notePagePush, watchedSkills, watchReport, type WatchReport } from './watch-status.ts';

/** The stores a quorum action works on: the bucket and its KV. */
export interface QuorumStores {
  blobs: BlobStore;
  kv: KV;
}

/**
 * What the quorum plugin offers its hosts (the Worker's routes and `snappy ops`), with the
 * options it was configured with: one parse, one set of thresholds everywhere.
 */
export interface QuorumService {
  readonly options: QuorumOptions;
  /** Every staged rev and where it stands (its expiry countdown as of `now`, default the system clock). */
  revs(blobs: BlobStore, now?: number): Promise<RevStatus[]>;
  lastPromotion(kv: KV): Promise<Record<string, unknown> | null>;
  lastRollback(kv: KV): Promise<Record<string, unknown> | null>;
  /**
   * Promotes a staged rev now, as operator `by` (refused on a store without exactly-once writes
   * unless a single writer is declared). `opts.diff`: the id of the diff the operator was shown
   * (`revDiff`); refused when it is not the change any more. The approval is recorded either way.
   */
  approve(stores: QuorumStores, skill: string, rev: string, by: string, log: Logger, opts?: { diff?: string }): Promise<PromoteResult & { approval?: Approval }>;
  /** The approval record of a rev (which diff its operator saw), if it was approved. */
  approval(blobs: BlobStore, skill: string, rev: string): Promise<Approval | null>;
  reject(blobs: BlobStore, skill: string, rev: string, by: string, reason: string): Promise<Rejection>;
  /** Rolls a skill's canonical back now, as operator `by`; with `rev`, only while that rev is canonical. */
  rollback(stores: QuorumStores, skill: string, by: string, opts: { rev?: string; reason?: string }, log: Logger): Promise<RollbackResult>;
  /** Lifts the mark of a rolled back rev: the quorum may promote it again. */
  clear(stores: QuorumStores, skill: string, rev: string, by: string, reason: string, log: Logger): Promise<MarkResult>;
  /** Reopens an expired rev: the quorum decides it again and its expiry clock starts over (at `now`). */
  revive(stores: QuorumStores, skill: string, rev: string, by: string, reason: string, log: Logger, now?: number): Promise<MarkResult>;
  /** Pins (or unpins) a rev: a pinned rev is never rolled back by the watch. */
  pin(stores: QuorumStores, skill: string, rev: string, pin: boolean, by: string, reason: string, log: Logger): Promise<MarkResult>;
  /** Open watches with their objections so far, pins, and the newest rollbacks. */
  watch(stores: QuorumStores): Promise<WatchReport>;
  /** Per skill, the canonical's history, scores per day, quorum and watch progress, tenants in counts (operator-only). */
  skills(stores: QuorumStores): Promise<SkillView[]>;
  /** A tenant's page push the Worker accepted: notes the tenant's adoption of a watched page. */
  notePage(blobs: BlobStore, tenant: string, skill: string, bytes: Uint8Array, now: number): Promise<boolean>;
  /** Skills with an open watch. */
  watchedSkills(blobs: BlobStore): Promise<Set<string>>;
  /** The KV key the Worker caches a skill's canonical folder under until its next promotion. */
  canonicalCacheKey(skill: string): string;
}

declare module '../../core/services.ts' {
  interface ServiceMap {
    quorum: QuorumService;
  }
}

export function createQuorumService(options: QuorumOptions): QuorumService {
  return {
    options,
    revs: (blobs, now) => revStatuses(blobs, options, undefined, now),
    lastPromotion,
    lastRollback,
    approve: async ({ blobs, kv }, skill, rev, by, log, opts = {}) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      const wo = watchOptionsFor(options, skill);
      return approveRev(blobs, kv, skill, rev, by, { watch: wo.enabled ? { graceMs: wo.graceMs } : null, pinned: wo.pinApprovals, ...(opts.diff === undefined ? {} : { shown: opts.diff }) });
    },
    approval: approvalOf,
    reject: (blobs, skill, rev, by, reason) => rejectRev(blobs, skill, rev, by, reason),
    rollback: async ({ blobs, kv }, skill, by, opts, log) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      return rollbackSkill(blobs, kv, skill, by, opts);
    },
    clear: async ({ blobs, kv }, skill, rev, by, reason, log) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      return clearRev(blobs, kv, skill, rev, by, reason);
    },
    revive: async ({ blobs, kv }, skill, rev, by, reason, log, now) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      return reviveExpired(blobs, kv, skill, rev, by, reason, now);
    },
    pin: async ({ blobs, kv }, skill, rev, pin, by, reason, log) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      return pinRev(blobs, kv, skill, rev, pin, by, reason);
    },
    watch: ({ blobs, kv }) => watchReport(blobs, kv, options),
    skills: ({ blobs, kv }) => skillViews(blobs, kv, options),
    notePage: notePagePush,
    watchedSkills,
    canonicalCacheKey: KvKeys.canonical,
  };
}
