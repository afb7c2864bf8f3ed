import { ErrorCode, SnappyError } from './errors.ts';
import type { PluginDefinition } from './plugin.ts';
import type { z } from 'zod';

/** One problem found in a config or options object. */
export interface Issue {
  /** Dotted path inside the object, e.g. `regen.timeoutMs` or `plugins[2]`. */
  path: string;
  message: string;
}

/**
 * Turns zod issues into `{path, message}` pairs with readable paths. A bad record key says
 * what a key must look like (the key schema's own message, not zod's "Invalid key in record");
 * given the schema, an unknown key lists the keys that are allowed there.
 */
export function issuesOf(error: z.ZodError, base = '', schema?: z.ZodType): Issue[] {
  return error.issues.flatMap((i): Issue[] => {
    const at = i.path as PropertyKey[];
    const path = joinPath(base, at);
    const nested = (i as { issues?: readonly { message: string }[] }).issues;
    if (i.code === 'invalid_key' && nested?.length) return [{ path, message: [...new Set(nested.map((n) => n.message))].join('; ') }];
    if (i.code === 'unrecognized_keys') {
      const allowed = schema ? keysAt(schema, at) : undefined;
      const expected = allowed?.length ? `; expected one of: ${allowed.join(', ')}` : '';
      return i.keys.map((k) => ({ path: joinPath(base, [...at, k]), message: `unknown key${expected}` }));
    }
    return [{ path, message: i.message }];
  });
}

/** The keys an object schema allows at `path` inside `schema`, or undefined when that is not an object. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let s: unknown = schema;
  const def = (x: unknown) => (x as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
  const unwrap = (x: unknown): unknown => {
    for (let d = def(x); d && (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault' || d.type === 'pipe'); d = def(x)) x = d.type === 'pipe' ? d.in : d.innerType;
    return x;
  };
  for (const p of path) {
    const d = def((s = unwrap(s)));
    if (d?.type === 'object') s = (d.shape as Record<string, unknown>)[String(p)];
    else if (d?.type === 'record') s = d.valueType;
    else return undefined;
  }
  const d = def(unwrap(s));
  return d?.type === 'object' ? Object.keys(d.shape as Record<string, unknown>) : undefined;
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
  const issues = issuesOf(res.error, plugin.name, plugin.options);
  throw new SnappyError(`invalid options:\n${formatIssues(issues)}`, { code: ErrorCode.PluginOptions, plugin: plugin.name, details: { issues } });
}
