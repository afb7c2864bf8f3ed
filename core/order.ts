import { ErrorCode, SnappyError } from './errors.ts';
import type { PluginInstance } from './plugin.ts';

/**
 * Orders plugins so that every plugin comes after the ones it depends on, keeping the given
 * order otherwise. A missing dependency or a cycle is an error that names the plugins.
 */
export function orderPlugins(instances: readonly PluginInstance[]): PluginInstance[] {
  const byName = new Map<string, PluginInstance>();
  for (const inst of instances) {
    const name = inst.plugin.name;
    if (byName.has(name)) {
      throw new SnappyError(`plugin "${name}" is configured twice`, { code: ErrorCode.PluginDuplicate, plugin: name });
    }
    byName.set(name, inst);
  }
  for (const inst of instances) {
    for (const dep of inst.plugin.dependsOn ?? []) {
      if (!byName.has(dep)) {
        throw new SnappyError(`depends on plugin "${dep}", which is not configured`, {
          code: ErrorCode.PluginMissingDependency,
          plugin: inst.plugin.name,
        });
      }
    }
  }
  const out: PluginInstance[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      throw new SnappyError(`plugin dependency cycle: ${cycle.join(' -> ')}`, { code: ErrorCode.PluginCycle, details: { cycle } });
    }
    state.set(name, 'visiting');
    stack.push(name);
    const inst = byName.get(name)!;
    for (const dep of inst.plugin.dependsOn ?? []) visit(dep);
    stack.pop();
    state.set(name, 'done');
    out.push(inst);
  };
  for (const inst of instances) visit(inst.plugin.name);
  return out;
}
