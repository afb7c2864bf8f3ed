/** Where the service works: a TaskContext fits (the state dir, and the identity for the key). */
export interface AggregateScope {
  stateDir: string;
  identity?: { masterKey?: string };
}

/**
 * What the aggregate plugin offers other plugins (`ctx.use<AggregateService>('aggregate')`).
 * The sync plugin ships the outbox and merges pulled batches through it, so that only one
 * piece of code ever writes `log/evals.aggregate.ndjson`.
 *
 * Pass your task's context as the last argument (`outbox(ctx)`, `merge(text, source, ctx)`):
 * plugins learn the state dir only from it. Without it the service uses the state dir of
 * the last ingest or aggregate task of this process, and throws (E_PRECONDITION) if none ran.
 */
export interface AggregateService {
  /**
   * This machine's own rows not yet shipped, as ndjson (schema v1, one row a line, trailing
   * newline); null when there are none or SNAPPY_MASTER_KEY is unset. Call `commit()` only
   * after the batch is stored (remote or Worker): until then the same rows come back.
   * Rows the eval ingest has seen but not yet aggregated (a run without a key) are
   * aggregated first. `collisions`: run ids found reused while this process aggregated.
   */
  outbox(scope?: AggregateScope): Promise<{ ndjson: string; rows: number; commit(): Promise<void>; collisions?: RunIdCollisions } | null>;
  /**
   * Merges rows pulled from the remote into the local union: each line checked against the
   * schema (bad lines skipped and returned), deduped by (tenant, run_id), crash-safe:
   * the rows are durable when the promise resolves (record the batch as merged only then).
   * `line` numbers are 1-based within `ndjson`. Needs no master key.
   */
  merge(ndjson: string, source: string, scope?: AggregateScope): Promise<{ added: number; duplicates: number; invalid: { line: number; reason: string }[]; collisions?: RunIdCollisions }>;
}

/**
 * Rows of this machine's tenant whose run id was already in the aggregate for another run (a
 * raw run id logged twice, on one machine or two): only the first counts anywhere, so they
 * are reported, with a count and one example. Found where the rows meet: when pulled batches
 * are merged (with a master key), and when new eval rows are aggregated while the aggregate's
 * keys are loaded.
 */
export interface RunIdCollisions {
  count: number;
  example: {
    /** The aggregate run id (HMAC), and the raw one when this machine's own log holds it. */
    run_id: string;
    raw_run_id?: string;
    /** The row already in the aggregate (the one that counts), when it could be found. */
    kept?: { skill: string; ts: string; score: number };
    /** The later row with the same run id, and where it came from. */
    dropped: { skill: string; ts: string; score: number; source: string };
  };
}

export const AGGREGATE_SERVICE = 'aggregate';
