// Build time, in Node (worker/build.mjs runs this file in a child process): which of the
// config's plugins go into the Worker. The config is evaluated as the CLI evaluates it and
// every plugin it names is loaded, so the build knows each plugin's `runtimes` before it
// bundles anything. Plugins named by module specifier that run in the Worker become static
// imports of the bundle; plugin objects come with the config module itself.
//
// Usage: node --import tsx worker/plugin-plan.ts CONFIG_FILE   (prints the plan as JSON)
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../cli/config-load.ts';
import { loadPluginRef } from '../cli/plugins-load.ts';
import type { PluginRef } from '../core/config.ts';
import { messageOf } from '../core/errors.ts';
import { runsIn, runtimesOf } from '../core/plugin.ts';

/** A plugin the Worker bundle imports by the specifier the config gives. */
export interface WorkerPluginImport {
  /** Its index in the config's `plugins`. */
  index: number;
  specifier: string;
  /** The plugin's name, for messages. */
  name: string;
}

/** What the Worker build does with the config's plugins. */
export interface WorkerPluginPlan {
  imports: WorkerPluginImport[];
  /** Plugin objects (definePlugin results) the config module carries into the bundle, by name. */
  objects: string[];
  /** One line per plugin left out of the Worker, and why. */
  notes: string[];
  /** The folder specifiers resolve from: the config file's, as in the CLI. */
  resolveDir: string;
}

function specifierOf(ref: PluginRef): string | undefined {
  if (typeof ref === 'string') return ref;
  if (Array.isArray(ref)) return ref[0] as string;
  const p = (ref as { plugin?: unknown }).plugin;
  return typeof p === 'string' ? p : undefined;
}

export async function planWorkerPlugins(configFile: string): Promise<WorkerPluginPlan> {
  const resolveDir = path.dirname(configFile);
  const { config } = await loadConfig({ explicit: configFile, dir: resolveDir });
  const plan: WorkerPluginPlan = { imports: [], objects: [], notes: [], resolveDir };
  // The Worker is no tenant and no machine: only the base `plugins` list applies there.
  for (const [index, ref] of (config.plugins ?? []).entries()) {
    const where = `plugins[${index}]`;
    const { plugin } = await loadPluginRef(ref as PluginRef, resolveDir, where);
    const specifier = specifierOf(ref as PluginRef);
    const named = specifier !== undefined ? `"${plugin.name}" (${where}, ${JSON.stringify(specifier)})` : `"${plugin.name}" (${where})`;
    if (!runsIn(plugin, 'worker')) {
      plan.notes.push(`plugin ${named} does not list 'worker' in its runtimes (${runtimesOf(plugin).join(', ')}): left out of the Worker`);
      continue;
    }
    if (specifier !== undefined) plan.imports.push({ index, specifier, name: plugin.name });
    else plan.objects.push(plugin.name);
  }
  return plan;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  try {
    if (!file) throw new Error('usage: plugin-plan.ts CONFIG_FILE');
    process.stdout.write(`${JSON.stringify(await planWorkerPlugins(path.resolve(file)))}\n`);
  } catch (err) {
    process.stderr.write(`${messageOf(err)}\n`);
    process.exitCode = 1;
  }
}
