import type { Hook } from 'tapable';
import { ErrorCode, SnappyError, isSnappyError, messageOf } from './errors.ts';
import { HOOK_SPECS, type FailurePolicy, type SnappyHooks } from './hooks.ts';
import { orderPlugins } from './order.ts';
import type { ObserverFailure, PluginContext, PluginInstance, PluginRuntime, RunnerApi, TaskContext, TaskDefinition, Timing } from './plugin.ts';
import { silentLogger, type Logger } from './ports.ts';
import type { ServiceMap } from './services.ts';
import { validateOptions } from './validate.ts';

/** Who owns the tasks the lifecycle defines (push, pull, regen, tick): snappy itself. */
export const LIFECYCLE = 'snappy';

export interface RunnerOptions {
  plugins: readonly PluginInstance[];
  /** The resolved config, given to every plugin as `ctx.config`. */
  config?: Readonly<Record<string, unknown>>;
  log?: Logger;
  runtime?: PluginRuntime;
  /** Per-hook tap timeout in ms (0 or absent: none). A tap that runs longer fails, naming its plugin. */
  tapTimeoutMs?: Readonly<Record<string, number>>;
  /** Tasks the host defines before any plugin applies (the lifecycle's), owned by `snappy`. */
  tasks?: Readonly<Record<string, TaskDefinition>>;
  /**
   * Compile every hook's callers when the runner is built (default), as the Worker must: it
   * forbids code generation later. A Node host may pass false: a hook then compiles on its
   * first call, and a run calls few of them. Sealed either way: no tap after the build.
   */
  precompile?: boolean;
}

/** A tap as its plugin wrote it, before the runner wrapped it. */
interface RawTap {
  plugin: string;
  type: string;
  fn: (...a: unknown[]) => unknown;
}

/** Thrown by `PushContext.veto`; the runner turns it into an E_VETO error naming the plugin. */
class VetoSignal {
  constructor(readonly reason: string) {}
}

/** The `veto` function of a PushContext. */
export function veto(reason: string): never {
  throw new VetoSignal(reason);
}

type AnyHook = Hook<unknown[], unknown> & {
  _createCall(type: 'sync' | 'async' | 'promise'): (...args: unknown[]) => unknown;
  promise: (...args: unknown[]) => Promise<unknown>;
  callAsync: (...args: unknown[]) => void;
  taps: { name: string; type: string; fn: (...a: unknown[]) => unknown }[];
};

/**
 * Applies plugins in dependency order, ties every tap to its plugin, times it and attributes
 * its errors, then compiles every hook once. After that the hook table is sealed: a tap added
 * later is an error (the Worker forbids the code generation a recompile would need).
 */
export class Runner implements RunnerApi {
  readonly hooks: SnappyHooks;
  readonly plugins: readonly string[];
  readonly tasks = new Map<string, TaskDefinition & { plugin: string }>();
  private readonly timingTable = new Map<string, Timing>();
  private readonly failures = new Map<string, ObserverFailure>();
  private readonly services = new Map<string, { plugin: string; value: unknown }>();
  private readonly policies = new Map<string, FailurePolicy>();
  private readonly raw = new WeakMap<object, RawTap>();
  private applying: string | undefined;
  private sealed = false;

  constructor(private readonly opts: RunnerOptions) {
    const log = opts.log ?? silentLogger;
    const table: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(HOOK_SPECS)) table[name] = this.declare(name, spec.create() as unknown as AnyHook, spec.failure);
    this.hooks = table as unknown as SnappyHooks;
    for (const [name, def] of Object.entries(opts.tasks ?? {})) this.tasks.set(name, { ...def, plugin: LIFECYCLE });
    const ordered = orderPlugins(opts.plugins);
    this.plugins = ordered.map((p) => p.plugin.name);
    for (const inst of ordered) {
      const { plugin } = inst;
      const options = validateOptions(plugin, inst.options);
      const ctx: PluginContext = {
        name: plugin.name,
        options,
        config: opts.config ?? {},
        log: prefixLog(log, plugin.name),
        runtime: opts.runtime ?? 'node',
        defineTask: (name, def) => {
          if (this.sealed) throw new SnappyError(`defineTask("${name}") after the runner was sealed`, { code: ErrorCode.HooksSealed, plugin: plugin.name });
          const prev = this.tasks.get(name);
          if (prev) throw new SnappyError(`task "${name}" is already defined by ${prev.plugin === LIFECYCLE ? 'snappy itself' : `plugin "${prev.plugin}"`}`, { code: ErrorCode.PluginDuplicate, plugin: plugin.name });
          this.tasks.set(name, { ...def, plugin: plugin.name });
        },
        defineHook: (name, decl) => {
          const where = { plugin: plugin.name, hook: 'apply' };
          if (this.sealed) throw new SnappyError(`defineHook("${name}") after the runner was sealed; declare hooks inside apply()`, { code: ErrorCode.HooksSealed, ...where });
          if (name in table) throw new SnappyError(`hook "${name}" already exists`, { code: ErrorCode.PluginDuplicate, ...where });
          const hook = decl?.hook as unknown as AnyHook | undefined;
          if (!hook || typeof hook.intercept !== 'function' || typeof hook._createCall !== 'function') {
            throw new SnappyError(`defineHook("${name}"): hook must be a tapable hook (e.g. new AsyncSeriesHook(['run', 'event']))`, { code: ErrorCode.PluginOptions, ...where });
          }
          if (decl.failure !== 'stop' && decl.failure !== 'observe') {
            throw new SnappyError(`defineHook("${name}"): failure must be 'stop' or 'observe', got ${JSON.stringify(decl.failure)}`, { code: ErrorCode.PluginOptions, ...where });
          }
          table[name] = this.declare(name, hook, decl.failure);
          return decl.hook;
        },
        provide: (key, value) => {
          const prev = this.services.get(key);
          if (prev) throw new SnappyError(`"${key}" is already provided by plugin "${prev.plugin}"`, { code: ErrorCode.PluginDuplicate, plugin: plugin.name });
          this.services.set(key, { plugin: plugin.name, value });
        },
        use: (key) => {
          const s = this.services.get(key);
          if (!s) throw new SnappyError(`needs the "${key}" service, which no configured plugin provides (configure its plugin and list it in dependsOn)`, { code: ErrorCode.PluginMissingDependency, plugin: plugin.name });
          return s.value as ServiceMap[typeof key];
        },
        find: (key) => this.services.get(key)?.value as ServiceMap[typeof key] | undefined,
      };
      this.applying = plugin.name;
      try {
        plugin.apply(this.hooks, ctx);
      } catch (err) {
        throw attribute(err, plugin.name, 'apply');
      } finally {
        this.applying = undefined;
      }
    }
    this.seal(opts.precompile ?? true);
  }

  service<K extends keyof ServiceMap>(key: K): ServiceMap[K] | undefined {
    return this.services.get(key)?.value as ServiceMap[K] | undefined;
  }

  /** Instruments `hook` under `name` with its failure policy. */
  private declare(name: string, hook: AnyHook, failure: FailurePolicy): AnyHook {
    this.policies.set(name, failure);
    this.instrument(name, hook);
    return hook;
  }

  /**
   * Calls hook `name` once per item, as `tap(first, item)`, tap by tap: each tap sees every
   * item in order before the next tap starts (stage order). Synchronous taps run in a plain
   * loop, timed once per call of `each`: a million rows cost no million promises. The hook's
   * failure policy applies per item.
   */
  async each<T>(name: keyof SnappyHooks, first: unknown, items: readonly T[]): Promise<void> {
    const hook = this.hooks[name] as unknown as AnyHook;
    if (!items.length || !hook.taps.length) return;
    for (const tap of hook.taps) {
      const raw = this.raw.get(tap.fn);
      if (raw && raw.type === 'sync') {
        const t0 = now();
        try {
          for (const item of items) {
            try {
              raw.fn(first, item);
            } catch (err) {
              this.failed(name, raw.plugin, err);
            }
          }
        } finally {
          this.record(raw.plugin, name, now() - t0, items.length);
        }
      } else if (tap.type === 'async') {
        for (const item of items) await new Promise<void>((resolve, reject) => tap.fn(first, item, (err?: unknown) => (err ? reject(err) : resolve())));
      } else {
        for (const item of items) await tap.fn(first, item);
      }
    }
  }

  /** A tap failed: recorded for an `observe` hook, else thrown naming the plugin. */
  private failed(hook: string, plugin: string, err: unknown): undefined {
    if (this.policies.get(hook) === 'observe' && !(err instanceof VetoSignal)) {
      this.recordFailure(plugin, hook, err);
      return undefined;
    }
    throw attribute(err, plugin, hook);
  }

  /** Adds the interceptor that names, wraps and times every tap of `hook`. */
  private instrument(hookName: string, hook: AnyHook): void {
    hook.intercept({
      register: (tap) => {
        if (this.sealed) {
          throw new SnappyError(`cannot tap "${hookName}" after the runner was sealed; tap inside apply()`, { code: ErrorCode.HooksSealed, hook: hookName });
        }
        const plugin = this.applying;
        if (!plugin) throw new SnappyError(`taps on "${hookName}" must be added inside a plugin's apply()`, { code: ErrorCode.HooksSealed, hook: hookName });
        const fn = this.wrap(hookName, plugin, tap.type, tap.fn as (...a: unknown[]) => unknown);
        this.raw.set(fn, { plugin, type: tap.type, fn: tap.fn as (...a: unknown[]) => unknown });
        return { ...tap, name: plugin, fn };
      },
    });
  }

  private wrap(hook: string, plugin: string, type: string, fn: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    const timeoutMs = this.opts.tapTimeoutMs?.[hook] ?? 0;
    const done = (t0: number) => this.record(plugin, hook, now() - t0);
    const fail = (err: unknown): unknown => this.failed(hook, plugin, err);
    if (type === 'promise') {
      return async (...args) => {
        const t0 = now();
        try {
          const p = Promise.resolve(fn(...args));
          return await (timeoutMs > 0 ? withTimeout(p, timeoutMs, plugin, hook) : p);
        } catch (err) {
          return fail(err);
        } finally {
          done(t0);
        }
      };
    }
    if (type === 'async') {
      return (...args) => {
        const t0 = now();
        const cb = args.pop() as (err?: unknown, res?: unknown) => void;
        try {
          fn(...args, (err?: unknown, res?: unknown) => {
            done(t0);
            if (err) {
              try {
                cb(null, fail(err));
              } catch (e) {
                cb(e);
              }
            } else cb(null, res);
          });
        } catch (err) {
          done(t0);
          cb(null, fail(err));
        }
      };
    }
    return (...args) => {
      const t0 = now();
      try {
        return fn(...args);
      } catch (err) {
        return fail(err);
      } finally {
        done(t0);
      }
    };
  }

  /** Refuses taps from now on; with `compile`, compiles every hook's callers now, while code generation is still allowed. */
  private seal(compile: boolean): void {
    if (compile) {
      for (const hook of Object.values(this.hooks) as AnyHook[]) {
        hook.promise = hook._createCall('promise') as AnyHook['promise'];
        hook.callAsync = hook._createCall('async') as AnyHook['callAsync'];
      }
    }
    this.sealed = true;
    Object.freeze(this.hooks);
  }

  /** Runs a task, timing it under `task:<name>` and attributing its errors to its plugin. */
  async runTask(name: string, ctx: Omit<TaskContext, 'runner'>): Promise<void> {
    const task = this.tasks.get(name);
    if (!task) {
      const known = [...this.tasks.keys()].sort().join(', ') || '(none)';
      throw new SnappyError(`unknown task "${name}"; tasks provided by the configured plugins: ${known}`, { code: ErrorCode.TaskUnknown });
    }
    const t0 = now();
    try {
      await task.run({ ...ctx, runner: this });
    } catch (err) {
      throw attribute(err, task.plugin, `task:${name}`);
    } finally {
      this.record(task.plugin, `task:${name}`, now() - t0);
    }
  }

  timings(): Timing[] {
    return [...this.timingTable.values()].map((t) => ({ ...t, totalMs: round(t.totalMs), maxMs: round(t.maxMs) }));
  }

  observerFailures(): ObserverFailure[] {
    return [...this.failures.values()];
  }

  private record(plugin: string, hook: string, ms: number, calls = 1): void {
    const key = `${plugin}\0${hook}`;
    const t = this.timingTable.get(key) ?? { plugin, hook, calls: 0, totalMs: 0, maxMs: 0 };
    t.calls += calls;
    t.totalMs += ms;
    if (ms > t.maxMs) t.maxMs = ms;
    this.timingTable.set(key, t);
  }

  private recordFailure(plugin: string, hook: string, err: unknown): void {
    const key = `${plugin}\0${hook}`;
    const f = this.failures.get(key);
    if (f) f.count++;
    else {
      this.failures.set(key, { plugin, hook, message: messageOf(err), count: 1 });
      (this.opts.log ?? silentLogger).warn(`[plugin ${plugin} ${hook}] failed (other observers still ran): ${messageOf(err)}`);
    }
  }
}

export function createRunner(opts: RunnerOptions): Runner {
  return new Runner(opts);
}

/** Wraps an error so that it names the plugin and hook, keeping the original as `cause`. */
export function attribute(err: unknown, plugin: string, hook: string): SnappyError {
  if (err instanceof VetoSignal) {
    return new SnappyError(`vetoed: ${err.reason}`, { code: ErrorCode.Veto, plugin, hook, details: { reason: err.reason } });
  }
  if (isSnappyError(err) && err.plugin) return err;
  if (isSnappyError(err)) {
    return new SnappyError(err.message, { code: err.code, plugin, hook, details: err.details, cause: err, ...(err.step !== undefined ? { step: err.step } : {}), ...(err.status !== undefined ? { status: err.status } : {}) });
  }
  return new SnappyError(`failed: ${messageOf(err)}`, { code: ErrorCode.HookFailed, plugin, hook, cause: err });
}

function withTimeout<T>(p: Promise<T>, ms: number, plugin: string, hook: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SnappyError(`did not finish within ${ms} ms`, { code: ErrorCode.HookTimeout, plugin, hook })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function prefixLog(log: Logger, name: string): Logger {
  return {
    info: (m) => log.info(`[${name}] ${m}`),
    warn: (m) => log.warn(`[${name}] ${m}`),
    error: (m) => log.error(`[${name}] ${m}`),
    debug: (m) => log.debug(`[${name}] ${m}`),
  };
}

const now = (): number => performance.now();
const round = (ms: number): number => Math.round(ms * 1000) / 1000;
