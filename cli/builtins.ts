import type { PluginDefinition } from '../core/plugin.ts';
import type { BuiltinPlugin } from '../core/config.ts';

/**
 * The built-in plugins, imported only when a command needs them. A built-in that is not in
 * this table is not part of this build: configuring it is an error, and its tasks are unknown.
 */
export const BUILTINS: Partial<Record<BuiltinPlugin, () => Promise<PluginDefinition>>> = {
  aggregate: async () => (await import('../plugins/aggregate/index.ts')).default,
  sync: async () => (await import('../plugins/sync/index.ts')).default,
  regen: async () => (await import('../plugins/regen/index.ts')).default,
  quorum: async () => (await import('../plugins/quorum/index.ts')).default,
};
