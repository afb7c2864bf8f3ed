import { AsyncSeriesHook, AsyncSeriesWaterfallHook, type Hook } from 'tapable';
import type { PushContext, RunContext, TickContext } from './context.ts';
import type { EvalRow } from '../domain/eval-row.ts';

/** One well-formed eval row, normalised, as `afterEval` taps receive it. */
export interface EvalEvent extends EvalRow {
  /** Identity of the row in its log: log generation + byte offset of the line. Stable across reruns. */
  generation: string;
  offset: number;
  /** 1-based line number, for messages. */
  line: number;
}

/** A line of the eval log that was skipped. */
export interface MalformedRow {
  line: number;
  offset: number;
  reason: string;
}

/** One ingest pass over a run of complete lines, after every `afterEval` of its rows: the point to flush. */
export interface IngestBatch {
  generation: string;
  /** Byte offset of the pass's first line (the cursor before it). */
  startOffset: number;
  /** Byte offset the ingest cursor moves to once this hook returns. */
  endOffset: number;
  /** Well-formed rows in the pass (each went through `afterEval`). */
  rows: number;
  malformed: readonly MalformedRow[];
}

/** A `.ready` marker found in `ready/`. */
export interface ReadyEvent {
  skill: string;
  /** Path of the marker relative to the state dir. */
  marker: string;
  snapshot: unknown;
  reason: string;
  /**
   * Says how this marker was handled (regen: `staged`, `failed`, `parked`, ...). Reported
   * under the task; `failed: true` makes the run fail (unless --auto) with the markers kept.
   */
  settle(outcome: ReadyOutcome): void;
}

/** What a tap did with a marker. */
export interface ReadyOutcome {
  skill: string;
  outcome: string;
  failed?: boolean;
  error?: string;
  [more: string]: unknown;
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

/** What `snappy status` collects from every plugin. */
export interface StatusReport {
  /** JSON sections by plugin (`snappy status --json`). */
  sections: Record<string, unknown>;
  /** Human lines (`snappy status` on a terminal). */
  lines: string[];
  /** Whether the lines may carry terminal colours. */
  color: boolean;
}

/** The hooks snappy fires; every tap's first argument is the context of its run. */
export interface BuiltinHooks {
  /** Async waterfall over the push plan; veto through the context. Fired by the push lifecycle. */
  beforePush: AsyncSeriesWaterfallHook<[PushPlan, PushContext]>;
  /** Once per new well-formed eval row, in log order. A failing tap is reported and the others still run. */
  afterEval: AsyncSeriesHook<[RunContext, EvalEvent]>;
  /** Once per ingest pass, after its `afterEval` calls; observers flush here. */
  afterIngest: AsyncSeriesHook<[RunContext, IngestBatch]>;
  /** Once per `.ready` marker. */
  onReady: AsyncSeriesHook<[RunContext, ReadyEvent]>;
  /** The Worker's minute tick (and `snappy run tick`), in series, under a deadline. */
  onTick: AsyncSeriesHook<[TickContext]>;
  /** `snappy status`: each plugin adds its section. */
  onStatus: AsyncSeriesHook<[RunContext, StatusReport]>;
}

/**
 * The hook table. Third-party plugins add hooks by augmenting this interface
 * (`declare module 'snappy-os' { interface SnappyHooks { myHook: AsyncSeriesHook<[RunContext, Foo]> } }`)
 * and declaring them in `apply` with `ctx.defineHook('myHook', { hook, failure })`.
 */
export interface SnappyHooks extends BuiltinHooks {}

/**
 * What a failing tap does to the call: `stop` fails the call (and the run), naming the
 * plugin; `observe` reports it (once per plugin and hook) and lets the other taps run.
 */
export type FailurePolicy = 'stop' | 'observe';

/** How a hook is made and what a failure of one of its taps does. */
export interface HookSpec<H> {
  create(): H;
  failure: FailurePolicy;
}

/**
 * The built-in hooks. The mapped type makes leaving one out a compile error, so a new hook
 * always states its failure policy.
 */
export const HOOK_SPECS: { readonly [K in keyof BuiltinHooks]: HookSpec<BuiltinHooks[K]> } = {
  beforePush: { create: () => new AsyncSeriesWaterfallHook(['plan', 'push']), failure: 'stop' },
  afterEval: { create: () => new AsyncSeriesHook(['run', 'event']), failure: 'observe' },
  afterIngest: { create: () => new AsyncSeriesHook(['run', 'batch']), failure: 'stop' },
  onReady: { create: () => new AsyncSeriesHook(['run', 'event']), failure: 'stop' },
  onTick: { create: () => new AsyncSeriesHook(['tick']), failure: 'stop' },
  onStatus: { create: () => new AsyncSeriesHook(['run', 'status']), failure: 'stop' },
};

/** A hook of any kind, as the runner handles it. */
export type AnyHook = Hook<unknown[], unknown>;
