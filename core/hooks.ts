import { AsyncSeriesHook, AsyncSeriesWaterfallHook } from 'tapable';
import type { Identity, TaskContext } from './plugin.ts';
import type { BlobStore, KV, Logger } from './ports.ts';
import type { EvalRow } from '../domain/eval-row.ts';

/** One well-formed eval row, normalised, as `afterEval` observers receive it. */
export interface EvalEvent extends EvalRow {
  /** Identity of the row in its log: log generation + byte offset of the line. Stable across reruns. */
  generation: string;
  offset: number;
  /** 1-based line number, for messages. */
  line: number;
  /** Absolute state dir whose log the row came from (set by the Node ingest). */
  stateDir?: string;
}

/** A line of the eval log that was skipped. */
export interface MalformedRow {
  line: number;
  offset: number;
  reason: string;
}

/** Fired once per ingest pass, after every `afterEval` of that pass: the point to flush. */
export interface IngestBatch {
  generation: string;
  /** Byte offset the ingest cursor moves to once this hook returns. */
  endOffset: number;
  events: readonly EvalEvent[];
  malformed: readonly MalformedRow[];
  /** Absolute state dir whose log was ingested (set by the Node ingest). */
  stateDir?: string;
  /** Byte offset the chunk starts at (the cursor before it; set by the Node ingest). */
  startOffset?: number;
  /** Who ingests (set by the CLI's ingest): lets observers that need the tenant or key act. */
  identity?: Identity;
}

/** A `.ready` marker the PID loop dropped. */
export interface ReadyEvent {
  skill: string;
  /** Path of the marker relative to the state dir. */
  marker: string;
  snapshot: unknown;
  reason: string;
}

/** One file the push would send. */
export interface PlanEntry {
  /** Path relative to the state dir (POSIX separators). */
  path: string;
  /** Object key relative to the remote's prefix. */
  key: string;
  /** Create-only on the remote (staged revs, aggregate batches). */
  createOnly?: boolean;
  size?: number;
  /** Why it is in the plan, for --dry-run and --json. */
  kind: string;
}

/** The push plan `beforePush` taps transform. */
export interface PushPlan {
  entries: PlanEntry[];
}

/** Second argument of `beforePush`: lets a tap stop the push. */
export interface PushContext {
  dryRun: boolean;
  /** Abort the push. The runner names the calling plugin in the error. */
  veto(reason: string): never;
}

/** What every `onTick` tap receives. */
export interface TickContext {
  now: number;
  /** Epoch ms by which the tick must finish; taps should stop starting new work after it. */
  deadline: number;
  signal: AbortSignal;
  blobs: BlobStore;
  kv: KV;
  log: Logger;
  /** Taps put what they did here (the CLI prints it with --json). */
  results: Record<string, unknown>;
  /** Limit the tick to these staged revs (`skill:rev_id`), e.g. when fired by an ingest. */
  only?: readonly string[];
}

/** What `snappy status` asks every plugin for. */
export interface StatusRequest {
  ctx: TaskContext;
  /** JSON sections by plugin (`snappy status --json`). */
  sections: Record<string, unknown>;
  /** Human lines (`snappy status` on a terminal). */
  lines: string[];
}

/**
 * The hook table. Third-party plugins add hooks by augmenting this interface
 * (`declare module 'snappy' { interface SnappyHooks { myHook: ... } }`) and creating them
 * in `apply` through `ctx.addHook`.
 */
export interface SnappyHooks {
  /** Async waterfall over the push plan; veto through the context. */
  beforePush: AsyncSeriesWaterfallHook<[PushPlan, PushContext]>;
  /** Once per new well-formed eval row. A failing observer is reported and the others still run. */
  afterEval: AsyncSeriesHook<[EvalEvent]>;
  /** Once per ingest pass, after its `afterEval` calls; observers flush here. */
  afterIngest: AsyncSeriesHook<[IngestBatch]>;
  /** Once per `.ready` marker, in series. */
  onReady: AsyncSeriesHook<[ReadyEvent]>;
  /** The Worker's minute tick (and `snappy run tick`), in series, under a deadline. */
  onTick: AsyncSeriesHook<[TickContext]>;
  /** `snappy status`: each plugin adds its section. */
  onStatus: AsyncSeriesHook<[StatusRequest]>;
}

/** Hooks whose failing taps are reported but do not stop the other taps. */
export const OBSERVER_HOOKS: ReadonlySet<string> = new Set(['afterEval']);

export function createHooks(): SnappyHooks {
  return {
    beforePush: new AsyncSeriesWaterfallHook(['plan', 'ctx']),
    afterEval: new AsyncSeriesHook(['event']),
    afterIngest: new AsyncSeriesHook(['batch']),
    onReady: new AsyncSeriesHook(['event']),
    onTick: new AsyncSeriesHook(['tick']),
    onStatus: new AsyncSeriesHook(['status']),
  };
}
