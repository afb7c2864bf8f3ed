import type { Hook } from 'tapable';
import { ErrorCode, SnappyError, isSnappyError, messageOf } from './errors.ts';
import { OBSERVER_HOOKS, createHooks, type SnappyHooks } from './hooks.ts';
import { orderPlugins } from './order.ts';
import type { ObserverFailure, PluginContext, PluginInstance, RunnerApi, TaskContext, TaskDefinition, Timing } from './plugin.ts';
import { silentLogger, type Logger } from './ports.ts';
import { validateOptions } from './validate.ts';

export interface RunnerOptions {
  plugins: readonly PluginInstance[];
  /** The resolved config, given to every plugin as `ctx.config`. */
  config?: Readonly<Record<string, unknown>>;
  log?: Logger;
  env?: 'node' | 'worker';
  /** Per-hook tap timeout in ms (0 or absent: none). A tap that runs longer fails, naming its plugin. */
  tapTimeoutMs?: Readonly<Record<string, number>>;
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
  taps: { name: string; type: string }[];
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
  private applying: string | undefined;
  private sealed = false;

  constructor(private readonly opts: RunnerOptions) {
    const log = opts.log ?? silentLogger;
    this.hooks = createHooks();
    for (const [name, hook] of Object.entries(this.hooks)) this.instrument(name, hook as unknown as AnyHook);
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
        env: opts.env ?? 'node',
        defineTask: (name, def) => {
          if (this.sealed) throw new SnappyError(`defineTask("${name}") after the runner was sealed`, { code: ErrorCode.HooksSealed, plugin: plugin.name });
          const prev = this.tasks.get(name);
          if (prev) throw new SnappyError(`task "${name}" is already defined by plugin "${prev.plugin}"`, { code: ErrorCode.PluginDuplicate, plugin: plugin.name });
          this.tasks.set(name, { ...def, plugin: plugin.name });
        },
        provide: (key, value) => {
          const prev = this.services.get(key);
          if (prev) throw new SnappyError(`"${key}" is already provided by plugin "${prev.plugin}"`, { code: ErrorCode.PluginDuplicate, plugin: plugin.name });
          this.services.set(key, { plugin: plugin.name, value });
        },
        use: <T,>(key: string): T => {
          const s = this.services.get(key);
          if (!s) throw new SnappyError(`needs "${key}", which no applied plugin provides (add the plugin to dependsOn)`, { code: ErrorCode.PluginMissingDependency, plugin: plugin.name });
          return s.value as T;
        },
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
    this.seal();
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
        return { ...tap, name: plugin, fn: this.wrap(hookName, plugin, tap.type, tap.fn as (...a: unknown[]) => unknown) };
      },
    });
  }

  private wrap(hook: string, plugin: string, type: string, fn: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    const observer = OBSERVER_HOOKS.has(hook);
    const timeoutMs = this.opts.tapTimeoutMs?.[hook] ?? 0;
    const done = (t0: number) => this.record(plugin, hook, now() - t0);
    const fail = (err: unknown): unknown => {
      if (observer && !(err instanceof VetoSignal)) {
        this.recordFailure(plugin, hook, err);
        return undefined;
      }
      throw attribute(err, plugin, hook);
    };
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

  /** Compiles every hook's callers now, while code generation is still allowed. */
  private seal(): void {
    for (const hook of Object.values(this.hooks) as AnyHook[]) {
      hook.promise = hook._createCall('promise') as AnyHook['promise'];
      hook.callAsync = hook._createCall('async') as AnyHook['callAsync'];
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

  private record(plugin: string, hook: string, ms: number): void {
    const key = `${plugin}\0${hook}`;
    const t = this.timingTable.get(key) ?? { plugin, hook, calls: 0, totalMs: 0, maxMs: 0 };
    t.calls++;
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
    return new SnappyError(err.message, { code: err.code, plugin, hook, details: err.details, cause: err });
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
