/**
 * What the aggregate plugin offers other plugins (`ctx.use<AggregateService>('aggregate')`).
 * The sync plugin ships the outbox and merges pulled batches through it, so that only one
 * piece of code ever writes `log/evals.aggregate.ndjson`.
 */
export interface AggregateService {
  /**
   * This machine's own rows not yet shipped, as ndjson (schema v1, one row a line, trailing
   * newline); null when there are none or SNAPPY_MASTER_KEY is unset. Call `commit()` only
   * after the batch is stored (remote or Worker): until then the same rows come back.
   */
  outbox(): Promise<{ ndjson: string; rows: number; commit(): Promise<void> } | null>;
  /**
   * Merges rows pulled from the remote into the local union: each line checked against the
   * schema (bad lines skipped and returned), deduped by (tenant, run_id), crash-safe.
   */
  merge(ndjson: string, source: string): Promise<{ added: number; duplicates: number; invalid: { line: number; reason: string }[] }>;
}

export const AGGREGATE_SERVICE = 'aggregate';
