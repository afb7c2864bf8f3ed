import type { WatchReport } from './watch-status.ts';
import { tenantsWords } from './words.ts';
import type { CanonicalRef, ChangelogEntry } from '../../domain/changelog.ts';

/** One watch as `snappy status` shows it: counts only, no tenant's own numbers. */
export interface WatchSummary {
  skill: string;
  rev: string;
  seq: number;
  promotedAt: string;
  by: string;
  pinned: boolean;
  adopted: number;
  objecting: number;
  objectingRuns: number;
  runs: number;
  /** As many tenants object as the quorum needs: the next tick rolls it back (unless pinned). */
  rollback: boolean;
  reason: string;
  thresholds: WatchReport['watches'][number]['thresholds'];
}

/** One rollback as `snappy status` shows it: the entry without its per-tenant evidence. */
export type RollbackSummary = Pick<ChangelogEntry, 'seq' | 'ts' | 'skill' | 'rev_id' | 'by' | 'tenants' | 'runs' | 'mean'> & {
  restored: CanonicalRef | null;
  reason: string | null;
  /** The rev stays marked (never promoted again) until an operator clears it. */
  marked: boolean;
};

/** The watch as `snappy status` and a tenant's /v1/status show it. */
export interface WatchView {
  watches: WatchSummary[];
  pins: WatchReport['pins'];
  rollbacks: RollbackSummary[];
  last_quorum_rollback: WatchReport['last_quorum_rollback'];
}

/**
 * The watch report without any tenant's identity or scores: what every tenant may see. Tenants
 * learn how many object and how many runs count, never who or how they scored (the operator's
 * `snappy ops watch` and /snappy-ops show that).
 */
export function watchView(r: WatchReport): WatchView {
  return {
    watches: r.watches.map((w) => ({ skill: w.skill, rev: w.rev, seq: w.seq, promotedAt: w.promotedAt, by: w.by, pinned: w.pinned, adopted: w.adopted, objecting: w.objecting, objectingRuns: w.objectingRuns, runs: w.runs, rollback: w.rollback, reason: w.reason, thresholds: w.thresholds })),
    pins: r.pins,
    rollbacks: r.rollbacks.map((e) => ({ seq: e.seq, ts: e.ts, skill: e.skill, rev_id: e.rev_id, by: e.by, tenants: e.tenants, runs: e.runs, mean: e.mean, restored: e.restored ?? null, reason: e.reason ?? null, marked: e.marked })),
    last_quorum_rollback: r.last_quorum_rollback,
  };
}

/** Human lines of the watch, for `snappy status`. */
export function watchLines(v: WatchView): string[] {
  const lines: string[] = [];
  lines.push(`watch: ${v.watches.length} promotion(s) under watch, ${v.pins.length} pin(s), ${v.rollbacks.length} rollback(s); last rollback: ${v.last_quorum_rollback ? `${String(v.last_quorum_rollback.skill)}:${String(v.last_quorum_rollback.rev_id)} at ${String(v.last_quorum_rollback.ts)}` : 'none'}`);
  for (const w of v.watches) {
    lines.push(`  watching ${w.skill}:${w.rev} (promoted ${w.promotedAt} by ${w.by}${w.pinned ? ', PINNED' : ''}): ${tenantsWords(w.objecting, w.thresholds.minTenants, 'object')}, ${w.adopted} adopted the page, ${w.runs} runs counted${w.rollback ? (w.pinned ? '; would roll back, but pinned' : '; rolls back at the next tick') : ''}`);
  }
  for (const p of v.pins) lines.push(`  pinned ${p.skill}:${p.rev}: never rolled back by the watch`);
  for (const e of v.rollbacks) {
    lines.push(`  rolled back ${e.skill}:${e.rev_id} at ${e.ts} by ${e.by} (${e.tenants} tenants, ${e.runs} runs): ${e.restored ? `restored ${e.restored.rev_id}` : 'canonical withdrawn'}${e.marked ? '; marked, never promoted again until cleared' : '; mark cleared'}`);
  }
  return lines;
}
