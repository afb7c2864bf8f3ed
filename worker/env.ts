import type { ExecutionContext, KVNamespace, R2Bucket, RateLimit } from '../adapters/workers-types.ts';

/**
 * The Worker's bindings and variables (wrangler.toml). The bucket is the R2 binding
 * `SNAPPY_BUCKET`, unless `SNAPPY_S3_BUCKET` is set: then it is that S3 bucket (any
 * S3-compatible server), so the Worker can share the bucket tenants use.
 */
export interface Env {
  /** KV namespace: tenants, the canonical page cache, last_quorum_promotion. */
  SNAPPY_KV?: KVNamespace;
  /** R2 bucket binding. */
  SNAPPY_BUCKET?: R2Bucket;
  /** Key prefix inside the R2 bucket (optional). */
  SNAPPY_BUCKET_PREFIX?: string;
  SNAPPY_S3_BUCKET?: string;
  SNAPPY_S3_PREFIX?: string;
  SNAPPY_S3_ENDPOINT?: string;
  SNAPPY_S3_REGION?: string;
  /** Secrets for the S3 bucket. */
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  /** Secret: one token for /snappy-ops (at least 32 characters); approvals then must name their operator. */
  OPS_TOKEN?: string;
  /** Secret: named ops tokens `name:token,name:token` (each at least 32 characters); wins over OPS_TOKEN. */
  OPS_TOKENS?: string;
  /** Rate Limiting binding for wrong ops tokens, keyed by client. */
  SNAPPY_OPS_LIMITER?: RateLimit;
  /** Largest ingest body in bytes (default 1 MiB). */
  SNAPPY_INGEST_MAX_BYTES?: string;
  /** Most rows in one ingest batch (default 10000). */
  SNAPPY_INGEST_MAX_ROWS?: string;
  /** Most distinct staged revs one ingest batch may name (default 100). */
  SNAPPY_INGEST_MAX_REVS?: string;
  /** Largest page, file or brief a tenant may write, bytes (default 1 MiB). */
  SNAPPY_OBJECT_MAX_BYTES?: string;
  /** Window for signed requests' timestamps, ms (default 300000, also when the value is not a positive whole number): older or newer is refused. */
  SNAPPY_INGEST_WINDOW_MS?: string;
  /**
   * Until when (ISO-8601) signatures v1 are still accepted on ingest, for a fleet moving to
   * v2 (docs/worker.md "Moving from signatures v1"). Unset: v1 is refused.
   */
  SNAPPY_V1_UNTIL?: string;
  /**
   * The oldest client protocol the Worker serves (default 1: every release). Raise it once the
   * ops page shows every tenant on a release that speaks the new one (docs/operate.md "Upgrade").
   */
  SNAPPY_MIN_CLIENT_PROTOCOL?: string;
  /** Secret: a URL the Worker POSTs alerts to as they open and resolve (docs/operate.md "Watch"). */
  SNAPPY_ALERT_WEBHOOK?: string;
  /** Secret: when set, every webhook call carries `x-snappy-signature: sha256=<HMAC-SHA256 hex of the body>` under it. */
  SNAPPY_ALERT_WEBHOOK_SECRET?: string;
  /** A tenant is quiet after this many hours without a request (default 72). */
  SNAPPY_ALERT_QUIET_HOURS?: string;
  /** A backlog is stalled after this many minutes of ticks that leave batches waiting (default 15). */
  SNAPPY_ALERT_BACKLOG_MINUTES?: string;
  /** Ticks that fail in a row before an alert (default 3). */
  SNAPPY_ALERT_TICK_FAILURES?: string;
  /**
   * Days of aggregate rows kept in the pull set (default 365; 0 = forever): older hours are
   * neither served by GET /v1/aggregate nor compacted, and machines prune them from their local
   * union (docs/scale.md "Retention and compaction").
   */
  SNAPPY_AGG_RETENTION_DAYS?: string;
  /** Batches one cron compacts at most, plus the rest of the part it is in (default 2000): its share of the cron's subrequests. */
  SNAPPY_COMPACT_BATCHES?: string;
  /** Cloudflare Rate Limiting binding for ingest, keyed by tenant (wrangler.toml `[[ratelimits]]`). */
  SNAPPY_INGEST_LIMITER?: RateLimit;
  /** The limiter's period in seconds (10 or 60), for Retry-After (default 60). */
  SNAPPY_INGEST_LIMIT_PERIOD?: string;
}

/** The part of a Worker's ExecutionContext the handlers use. */
export type ExecCtx = Pick<ExecutionContext, 'waitUntil'>;

/**
 * A whole-number variable of at least `min`, or `fallback` when it is unset, empty or anything
 * else: a typo keeps the default rather than becoming NaN, which every comparison lets through.
 */
export function envInt(value: string | undefined, fallback: number, min = 1): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== '' && Number.isSafeInteger(n) && n >= min ? n : fallback;
}
