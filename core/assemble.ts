import { BUILTIN_PLUGINS, type BuiltinPlugin, type ResolvedConfig } from './config.ts';
import { ErrorCode, SnappyError } from './errors.ts';
import { runsIn, type PluginDefinition, type PluginInstance, type PluginRuntime } from './plugin.ts';

/**
 * The plugins a host applies, in order: the built-ins the config wants (all of them unless
 * `builtins` narrows the list), each with its config section as options, then the config's
 * own `plugins`; of both, only those that run in `runtime`. The CLI and the Worker both
 * assemble through here; they differ only in how they get the plugin objects (the CLI imports
 * them when needed, the Worker has them bundled).
 *
 * `builtins` holds the built-ins this host has. A built-in missing from it is an error in
 * Node (this build does not include it) and left out in the Worker, which bundles only the
 * built-ins that run there.
 */
export function assemblePlugins(config: ResolvedConfig, runtime: PluginRuntime, builtins: Partial<Record<BuiltinPlugin, PluginDefinition>>, configured: readonly PluginInstance[]): PluginInstance[] {
  const out: PluginInstance[] = [];
  for (const name of wantedBuiltins(config)) {
    const plugin = builtins[name];
    if (!plugin) {
      if (runtime === 'worker') continue;
      throw new SnappyError(`config "builtins" names "${name}", which this build of snappy does not include`, { code: ErrorCode.Config });
    }
    if (runsIn(plugin, runtime)) out.push({ plugin, options: (config as Record<string, unknown>)[name] ?? {} });
  }
  for (const inst of configured) if (runsIn(inst.plugin, runtime)) out.push(inst);
  return out;
}

/** The built-ins a config asks for, in their default order unless it lists them. */
export function wantedBuiltins(config: ResolvedConfig): readonly BuiltinPlugin[] {
  return config.builtins ?? BUILTIN_PLUGINS;
}
