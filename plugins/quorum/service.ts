import type { BlobStore, KV, Logger } from '../../core/ports.ts';
import { approvalOf, approveRev, rejectRev, type Approval } from './ops.ts';
import type { QuorumOptions } from './options.ts';
import { assertExactlyOnce } from './probe.ts';
import { KvKeys, type PromoteResult } from './promote.ts';
import { lastPromotion, revStatuses, type Rejection, type RevStatus } from './revs.ts';

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
  /** Every staged rev and where it stands. */
  revs(blobs: BlobStore): Promise<RevStatus[]>;
  lastPromotion(kv: KV): Promise<Record<string, unknown> | null>;
  /**
   * Promotes a staged rev now, as operator `by` (refused on a store without exactly-once writes
   * unless a single writer is declared). `opts.diff`: the id of the diff the operator was shown
   * (`revDiff`); refused when it is not the change any more. The approval is recorded either way.
   */
  approve(stores: QuorumStores, skill: string, rev: string, by: string, log: Logger, opts?: { diff?: string }): Promise<PromoteResult & { approval?: Approval }>;
  /** The approval record of a rev (which diff its operator saw), if it was approved. */
  approval(blobs: BlobStore, skill: string, rev: string): Promise<Approval | null>;
  reject(blobs: BlobStore, skill: string, rev: string, by: string, reason: string): Promise<Rejection>;
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
    revs: (blobs) => revStatuses(blobs, options),
    lastPromotion,
    approve: async ({ blobs, kv }, skill, rev, by, log, opts = {}) => {
      await assertExactlyOnce(blobs, options.singleWriter, log);
      return approveRev(blobs, kv, skill, rev, by, Date.now(), opts.diff);
    },
    approval: approvalOf,
    reject: (blobs, skill, rev, by, reason) => rejectRev(blobs, skill, rev, by, reason),
    canonicalCacheKey: KvKeys.canonical,
  };
}
