import path from 'node:path';
import { createRequire } from 'node:module';
import { assemblePlugins, wantedBuiltins } from '../core/assemble.ts';
import type { BuiltinPlugin, PluginRef, ResolvedConfig } from '../core/config.ts';
import { ErrorCode, SnappyError, messageOf } from '../core/errors.ts';
import { isPluginDefinition, pluginOfModule, type PluginDefinition, type PluginInstance } from '../core/plugin.ts';
import { BUILTINS } from './builtins.ts';
import { importDefault } from './import-module.ts';

/**
 * The plugin instances for a config: the built-ins (all of them unless `builtins` narrows
 * the list), each with its config section as options, then the configured `plugins`.
 * Module specifiers resolve like imports from the config file's folder. A plugin whose
 * `runtimes` leave out `node` is for the Worker only and is left out here.
 */
export async function loadPlugins(config: ResolvedConfig, configDir: string): Promise<PluginInstance[]> {
  const builtins: Partial<Record<BuiltinPlugin, PluginDefinition>> = {};
  for (const name of wantedBuiltins(config)) {
    const load = BUILTINS[name];
    if (load) builtins[name] = await load();
  }
  const configured: PluginInstance[] = [];
  for (const [i, ref] of (config.plugins ?? []).entries()) configured.push(await loadPluginRef(ref as PluginRef, configDir, `plugins[${i}]`));
  return assemblePlugins(config, 'node', builtins, configured);
}

/** One `plugins` entry as a plugin and its options, importing a module specifier from `dir`. */
export async function loadPluginRef(ref: PluginRef, dir: string, where: string): Promise<PluginInstance> {
  if (isPluginDefinition(ref)) return { plugin: ref };
  if (typeof ref === 'string') return { plugin: await importPlugin(ref, dir, where) };
  if (Array.isArray(ref)) return { plugin: await importPlugin(ref[0] as string, dir, where), options: ref[1] };
  const obj = ref as { plugin: PluginDefinition | string; options?: unknown };
  const plugin = typeof obj.plugin === 'string' ? await importPlugin(obj.plugin, dir, where) : obj.plugin;
  return { plugin, options: obj.options };
}

async function importPlugin(spec: string, dir: string, where: string): Promise<PluginDefinition> {
  let file: string;
  try {
    file = spec.startsWith('.') || path.isAbsolute(spec) ? path.resolve(dir, spec) : createRequire(path.join(dir, 'noop.js')).resolve(spec);
  } catch (err) {
    throw new SnappyError(`${where}: cannot find plugin module "${spec}" from ${dir}: ${messageOf(err).split('\n')[0]}`, { code: ErrorCode.PluginLoad, cause: err });
  }
  let def: unknown;
  try {
    def = await importDefault(file);
  } catch (err) {
    throw new SnappyError(`${where}: plugin module "${spec}" failed to load: ${messageOf(err).split('\n')[0]}`, { code: ErrorCode.PluginLoad, cause: err });
  }
  const plugin = pluginOfModule(def);
  if (!plugin) {
    throw new SnappyError(`${where}: module "${spec}" does not export a plugin (default export of definePlugin({ name, apply }))`, { code: ErrorCode.PluginLoad });
  }
  return plugin;
}
