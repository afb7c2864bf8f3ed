import { ErrorCode, SnappyError } from './errors.ts';
import type { PluginDefinition } from './plugin.ts';
import type { z } from 'zod';

/** One problem found in a config or options object. */
export interface Issue {
  /** Dotted path inside the object, e.g. `regen.timeoutMs` or `plugins[2]`. */
  path: string;
  message: string;
}

/** Turns zod issues into `{path, message}` pairs with readable paths. */
export function issuesOf(error: z.ZodError, base = ''): Issue[] {
  return error.issues.map((i) => ({ path: joinPath(base, i.path as PropertyKey[]), message: i.message }));
}

export function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `  at ${i.path}: ${i.message}`).join('\n');
}

/** Validates a plugin's options against its schema before `apply`; errors name the plugin and path. */
export function validateOptions(plugin: PluginDefinition, options: unknown): unknown {
  if (!plugin.options) return options;
  const res = plugin.options.safeParse(options ?? {});
  if (res.success) return res.data;
  const issues = issuesOf(res.error, plugin.name);
  throw new SnappyError(`invalid options:\n${formatIssues(issues)}`, { code: ErrorCode.PluginOptions, plugin: plugin.name, details: { issues } });
}
