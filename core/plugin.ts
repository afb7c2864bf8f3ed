import type { z } from 'zod';
import type { RunContext } from './context.ts';
import type { BuiltinHooks, FailurePolicy, MalformedRow, SnappyHooks } from './hooks.ts';
import type { Logger } from './ports.ts';
import type { ServiceMap } from './services.ts';

/** What a task receives when it runs: its run, and the runner to fire hooks or use services. */
export interface TaskContext extends RunContext {
  /**
   * Reads the eval rows appended to `log/evals.ndjson` since the last ingest and fires
   * `afterEval` once per new row, then `afterIngest`. Runs at most once per process run;
   * later calls return the first result.
   */
  ingest(): Promise<IngestSummary>;
  runner: RunnerApi;
}

/** What one ingest pass did. */
export interface IngestSummary {
  /** New well-formed rows (each fired `afterEval` once). */
  rows: number;
  malformed: readonly MalformedRow[];
  /** Bytes of the log read in this pass. */
  bytes: number;
  /** True when the log was truncated or replaced since the last pass and was read from the start. */
  restarted: boolean;
}

/** A named unit of work offered to `snappy run <task>`. */
export interface TaskDefinition {
  /** One line for `--help`. */
  describe: string;
  run(ctx: TaskContext): Promise<void>;
}

/** How a plugin declares a hook of its own (see `PluginContext.defineHook`). */
export interface HookDeclaration<H> {
  /** A tapable hook; its argument names are for messages. */
  hook: H;
  /** What a failing tap does: `stop` fails the call, `observe` reports it and runs the others. */
  failure: FailurePolicy;
}

/** What `apply` receives beside the hooks. */
export interface PluginContext<O = unknown> {
  /** This plugin's name; taps are attributed to it automatically. */
  readonly name: string;
  /** The plugin's options, already validated against its schema. */
  readonly options: O;
  /** The resolved config (after tenant and machine overrides). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  /** Where the plugin is being applied. */
  readonly runtime: PluginRuntime;
  /** Offers a task to `snappy run`. */
  defineTask(name: string, def: TaskDefinition): void;
  /**
   * Declares a hook other plugins tap (they list this plugin in `dependsOn`). The runner
   * attributes, times and bounds its taps like the built-in hooks' and compiles it before it
   * seals. Type it by augmenting `SnappyHooks`; fire it with `hooks.<name>.promise(...)`.
   */
  defineHook<K extends Exclude<keyof SnappyHooks, keyof BuiltinHooks>>(name: K, decl: HookDeclaration<SnappyHooks[K]>): SnappyHooks[K];
  /** Provides a service other plugins use; one provider per key. */
  provide<K extends keyof ServiceMap>(key: K, value: ServiceMap[K]): void;
  /** A service another plugin provides; throws naming the key when none does (list the provider in dependsOn). */
  use<K extends keyof ServiceMap>(key: K): ServiceMap[K];
  /** A service, or undefined when no configured plugin provides it (for optional collaborators). */
  find<K extends keyof ServiceMap>(key: K): ServiceMap[K] | undefined;
}

/** Where a plugin runs: `node` (the CLI, `snappy run tick`) or `worker` (the Worker, in workerd). */
export type PluginRuntime = 'node' | 'worker';

/** What a plugin runs in when it does not say: Node only, so the Worker takes a plugin only on its word. */
export const DEFAULT_RUNTIMES: readonly PluginRuntime[] = ['node'];

/** A plugin: a name, an options schema, dependencies and an `apply` that taps hooks. */
export interface PluginDefinition<S extends z.ZodType = z.ZodType> {
  /** Unique name; every tap, timing and error carries it. */
  name: string;
  /** zod schema for the options; they are validated before `apply` runs. */
  options?: S;
  /** Plugins that must be applied first (their taps run first at equal stage). */
  dependsOn?: readonly string[];
  /**
   * Where the plugin runs (default `['node']`). Add `'worker'` when the plugin and everything
   * it imports bundle for workerd (no `node:` modules, no files, no child processes): the
   * Worker build then bundles it and applies it, and its `onTick` taps run in the Worker's
   * cron. A plugin without `'worker'` is left out of the Worker; one without `'node'` is left
   * out of the CLI.
   */
  runtimes?: readonly PluginRuntime[];
  /** Tap hooks and define tasks. Synchronous: the Worker applies plugins at module top level. */
  apply(hooks: SnappyHooks, ctx: PluginContext<z.output<S>>): void;
}

/** A plugin together with the options it was given. */
export interface PluginInstance {
  plugin: PluginDefinition;
  options?: unknown;
}

/** Typed identity helper for plugin authors. */
export function definePlugin<S extends z.ZodType = z.ZodType>(def: PluginDefinition<S>): PluginDefinition<S> {
  if (!def || typeof def.name !== 'string' || !def.name || typeof def.apply !== 'function') {
    throw new TypeError('definePlugin needs { name: string, apply(hooks, ctx) }');
  }
  const rt = def.runtimes;
  if (rt !== undefined && (!Array.isArray(rt) || rt.length === 0 || rt.some((r) => r !== 'node' && r !== 'worker'))) {
    throw new TypeError(`plugin "${def.name}": runtimes must be a non-empty list of 'node' and 'worker', got ${JSON.stringify(rt)}`);
  }
  return def;
}

export function isPluginDefinition(v: unknown): v is PluginDefinition {
  return typeof v === 'object' && v !== null && typeof (v as PluginDefinition).name === 'string' && typeof (v as PluginDefinition).apply === 'function';
}

/** Where a plugin runs: its `runtimes`, or Node only when it does not say. */
export function runtimesOf(plugin: PluginDefinition): readonly PluginRuntime[] {
  return Array.isArray(plugin.runtimes) && plugin.runtimes.length > 0 ? plugin.runtimes : DEFAULT_RUNTIMES;
}

export function runsIn(plugin: PluginDefinition, runtime: PluginRuntime): boolean {
  return runtimesOf(plugin).includes(runtime);
}

/**
 * The plugin a module provides: its default export (a definePlugin object, `{ plugin }`, or a
 * function that returns the plugin), looking through the `default` wrappers CommonJS and
 * bundlers add. Undefined when there is none. The CLI and the Worker read modules alike.
 */
export function pluginOfModule(mod: unknown): PluginDefinition | undefined {
  let v = mod;
  for (let depth = 0; depth < 4; depth++) {
    if (isPluginDefinition(v)) return v;
    if (typeof v === 'function') {
      v = (v as () => unknown)();
      continue;
    }
    if (!v || typeof v !== 'object') return undefined;
    const o = v as { default?: unknown; plugin?: unknown };
    if (isPluginDefinition(o.plugin)) return o.plugin;
    if (!('default' in o)) return undefined;
    v = o.default;
  }
  return isPluginDefinition(v) ? v : undefined;
}

/** Timing of one plugin on one hook (or task). */
export interface Timing {
  plugin: string;
  hook: string;
  calls: number;
  totalMs: number;
  maxMs: number;
}

/** A failure of an observer tap that did not stop the others. */
export interface ObserverFailure {
  plugin: string;
  hook: string;
  message: string;
  count: number;
}

/** The part of the runner tasks and hosts see. */
export interface RunnerApi {
  readonly hooks: SnappyHooks;
  readonly plugins: readonly string[];
  readonly tasks: ReadonlyMap<string, TaskDefinition & { plugin: string }>;
  /** A service a plugin provides, or undefined. */
  service<K extends keyof ServiceMap>(key: K): ServiceMap[K] | undefined;
  timings(): Timing[];
  observerFailures(): ObserverFailure[];
}
