import { assemblePlugins } from '../core/assemble.ts';
import { configSchema, resolveConfig, type ResolvedConfig, type SnappyConfig } from '../core/config.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { isPluginDefinition, pluginOfModule, type PluginInstance } from '../core/plugin.ts';
import type { Logger } from '../core/ports.ts';
import { createRunner, type Runner } from '../core/runner.ts';
import { formatIssues, issuesOf } from '../core/validate.ts';
import { WORKER_BUILTINS } from './builtins.ts';
// The modules of the plugins the config names by specifier that run in the Worker, imported
// statically by worker/build.mjs (workerd cannot import at run time).
import bundledPlugins from 'snappy:worker-plugins';

/** Where Worker messages go: the Worker's console (wrangler tail, miniflare's output). */
export const consoleLogger: Logger = {
  info: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
  debug: () => {},
};

/**
 * Builds the Worker's runner from the bundled config. Must run at module top level: applying
 * plugins taps hooks and the runner compiles them, which workerd allows only then.
 */
export function createWorkerRunner(raw: SnappyConfig, log: Logger = consoleLogger): { runner: Runner; config: ResolvedConfig } {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new SnappyError(`bundled config is invalid:\n${formatIssues(issuesOf(parsed.error))}`, { code: ErrorCode.Config });
  // The Worker is no tenant and no machine: only the base config applies. In Worker mode only
  // batches that came through ingest count (no discovering folders), and only from admitted,
  // unrevoked tenants: the Worker sets both, whatever the config says.
  const base = resolveConfig(parsed.data, {});
  const config = { ...base, quorum: { ...((base.quorum as Record<string, unknown>) ?? {}), discover: false, admittedOnly: true } } as ResolvedConfig;
  const configured: PluginInstance[] = [];
  for (const [i, ref] of (config.plugins ?? []).entries()) {
    // A plugin that does not run in the Worker was left out at build, with a note.
    const inst = instanceOf(ref, i);
    if (inst) configured.push(inst);
  }
  const plugins = assemblePlugins(config, 'worker', WORKER_BUILTINS, configured);
  const runner = createRunner({ plugins, config: config as Record<string, unknown>, log, runtime: 'worker', tapTimeoutMs: config.timeouts ?? {} });
  return { runner, config };
}

/** A `plugins` entry as the Worker has it: an object from the config, or a module the build bundled. */
function instanceOf(ref: unknown, i: number): PluginInstance | undefined {
  if (isPluginDefinition(ref)) return { plugin: ref };
  const entry = (Array.isArray(ref) ? { plugin: ref[0], options: ref[1] } : typeof ref === 'string' ? { plugin: ref } : ref) as { plugin: unknown; options?: unknown };
  if (isPluginDefinition(entry.plugin)) return { plugin: entry.plugin, options: entry.options };
  if (!Object.prototype.hasOwnProperty.call(bundledPlugins, i)) return undefined;
  const plugin = pluginOfModule(bundledPlugins[i]);
  if (!plugin) throw new SnappyError(`plugins[${i}]: module "${String(entry.plugin)}" as bundled for the Worker does not export a plugin (default export of definePlugin({ name, apply }))`, { code: ErrorCode.PluginLoad });
  return { plugin, options: entry.options };
}
