import { compactAggregate, DEFAULT_COMPACT_BATCHES, type CompactReport } from '../domain/agg-compact.ts';
import type { Logger } from '../core/ports.ts';
import type { Stores } from './bindings.ts';
import { envInt, type Env } from './env.ts';
import { DAY, DEFAULT_RETENTION_DAYS, retentionDays } from './retention.ts';

/** The least time a cron gives compaction, even after a tick that used its whole budget. */
const MIN_COMPACT_MS = 5_000;

/**
 * The cron's compaction step, after the tick: closed hours of the batch index become segments
 * (domain/agg-compact.ts), a bounded number of batches per cron, oldest first; hours past the
 * retention window are left out.
 */
export async function compactStep(env: Env, stores: Stores, log: Logger, deadline: number): Promise<CompactReport> {
  const raw = env.SNAPPY_AGG_RETENTION_DAYS;
  const days = retentionDays(env);
  if (raw !== undefined && raw !== '' && String(days) !== raw.trim()) log.warn(`SNAPPY_AGG_RETENTION_DAYS=${JSON.stringify(raw)} is not a whole number of days >= 0: using ${DEFAULT_RETENTION_DAYS}`);
  const now = Date.now();
  const maxBatches = envInt(env.SNAPPY_COMPACT_BATCHES, DEFAULT_COMPACT_BATCHES);
  const r = await compactAggregate(stores.blobs, { now, retentionMs: days * DAY, deadline: Math.max(deadline, now + MIN_COMPACT_MS), maxBatches });
  if (r.hours.length || r.parts) log.info(`compaction: ${r.parts} segment parts written (${r.batches} batches, ${r.rows} rows, ${r.duplicates} duplicates left out), hours done: ${r.hours.join(', ') || 'none'}${r.partial ? '; more next cron' : ''}`);
  return r;
}
