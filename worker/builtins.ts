import type { BuiltinPlugin } from '../core/config.ts';
import type { PluginDefinition } from '../core/plugin.ts';
import quorum from '../plugins/quorum/index.ts';

/**
 * The built-in plugins bundled into the Worker (imported statically: no imports at run time).
 * aggregate, regen and sync work on a machine's state dir and have no place here.
 */
export const WORKER_BUILTINS: Partial<Record<BuiltinPlugin, PluginDefinition>> = { quorum: quorum as unknown as PluginDefinition };
