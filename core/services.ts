import type { PushContext, RunContext } from './context.ts';
import type { PushPlan } from './hooks.ts';

/**
 * The aggregate: this machine's anonymized rows and the union of every tenant's. Provided by
 * the aggregate plugin; the transport ships its outbox and merges pulled batches through it,
 * so that one piece of code writes `log/evals.aggregate.ndjson`.
 */
export interface AggregateService {
  /**
   * This machine's own rows not yet shipped, as ndjson (schema v1, one row a line, trailing
   * newline); null when there are none or the run has no master key. Call `commit()` only
   * once the batch is stored (remote or Worker): until then the same rows come back.
   * `collisions`: run ids found reused while this process aggregated, told with the batch.
   */
  outbox(run: RunContext): Promise<{ ndjson: string; rows: number; commit(): Promise<void>; collisions?: RunIdCollisions } | null>;
  /**
   * Merges rows pulled from the remote into the local union: each line checked against the
   * schema (bad lines skipped and returned), deduped by (tenant, run_id), durable when the
   * promise resolves (record the batch as merged only then). `line` is 1-based within
   * `ndjson`. Needs no master key; with one, rows of this machine's tenant that reuse a run id
   * another row of it has are reported (`collisions`).
   */
  merge(run: RunContext, ndjson: string, source: string): Promise<{ added: number; duplicates: number; invalid: { line: number; reason: string }[]; collisions?: RunIdCollisions }>;
  /**
   * Bounds the local union by the remote's retention window: rows whose `ts` is more than
   * `retentionDays` (0: none) before now go, and the rows of `removedTenants`, except this
   * machine's own rows not yet shipped. The window at most once a day, each removed tenant
   * once (null when nothing was due); kill-safe.
   */
  prune?(run: RunContext, o: { retentionDays: number; removedTenants: readonly string[] }): Promise<{ removed: number; kept: number } | null>;
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

/** A push being made: the plan `beforePush` taps shape, and what the transport needs to send it. */
export interface PreparedPush {
  readonly plan: PushPlan;
}

/**
 * Moves files between the state dir and the remote. Provided by the sync plugin; the push
 * lifecycle asks it for a plan, lets `beforePush` taps shape the plan, then has it sent.
 */
export interface TransportService {
  /** What changed since the last push, as a plan (the aggregate outbox rides in it as one entry). */
  preparePush(run: RunContext): Promise<PreparedPush>;
  /** Sends `plan` (the prepared plan as the taps left it); with `push.dryRun`, says what it would send. */
  sendPush(push: PushContext, prepared: PreparedPush, plan: PushPlan): Promise<void>;
  /** Fetches what changed on the remote and merges new aggregate batches. */
  pull(run: RunContext): Promise<void>;
}

/**
 * Typed services plugins provide (`ctx.provide`) and use (`ctx.use`, `ctx.find`): the only way
 * plugins meet besides hooks. A plugin adds its own by augmenting this interface:
 * `declare module 'snappy-os' { interface ServiceMap { myService: MyService } }`.
 */
export interface ServiceMap {
  aggregate: AggregateService;
  transport: TransportService;
}
