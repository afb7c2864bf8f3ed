import { z } from 'zod';
import { lazySchema } from './lazy-schema.ts';
import { MACHINE_RE as MACHINE_ID } from '../domain/names.ts';
import { isPluginDefinition, type PluginDefinition } from './plugin.ts';

/** A plugin in config: an object from definePlugin, a module specifier, or either with options. */
export type PluginRef =
  | PluginDefinition
  | string
  | readonly [string, unknown]
  | { plugin: PluginDefinition | string; options?: unknown };

/** The names of the built-in plugins, in their default order. */
export const BUILTIN_PLUGINS = ['aggregate', 'regen', 'sync', 'quorum'] as const;
export type BuiltinPlugin = (typeof BUILTIN_PLUGINS)[number];

/** The schema of `snappy.config.*`, made when first used (core/lazy-schema.ts). */
function makeConfigSchema() {
  const pluginObject = z.custom<PluginDefinition>(isPluginDefinition, { message: 'expected a plugin made with definePlugin({ name, apply })' });

  const pluginRef = z.union(
    [
      z.string().min(1),
      z.tuple([z.string().min(1), z.unknown()]),
      pluginObject,
      z.object({ plugin: z.union([z.string().min(1), pluginObject]), options: z.unknown().optional() }).strict(),
    ],
    { error: 'expected a plugin (definePlugin object), a module specifier string, [specifier, options] or { plugin, options }' },
  );

  const section = z.record(z.string(), z.unknown());

  const overridable = {
    /** Machine id when SNAPPY_MACHINE_ID is unset (default: the host name). */
    machineId: z.string().regex(MACHINE_ID, 'expected 1-64 characters of [A-Za-z0-9._-]').optional(),
    /** Remote URL when neither --remote nor SNAPPY_REMOTE is given: file://DIR or s3://BUCKET[/PREFIX]. */
    remote: z.string().regex(/^(file|s3):\/\/.+/, 'expected file://DIR or s3://BUCKET[/PREFIX]').optional(),
    /** S3 client settings (else the usual AWS_* variables). */
    s3: z
      .object({
        endpoint: z.string().url().optional(),
        region: z.string().min(1).optional(),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        sessionToken: z.string().min(1).optional(),
        forcePathStyle: z.boolean().optional(),
        /** Longest wait for a connection, per attempt, ms (default 10000). */
        connectTimeoutMs: z.number().int().positive().max(600_000).optional(),
        /** Longest wait for an answer (and between bytes of it), per attempt, ms (default 30000). */
        timeoutMs: z.number().int().positive().max(3_600_000).optional(),
      })
      .strict()
      .optional(),
    /**
     * The Worker. Set, it puts the machine in Worker mode: every push and pull goes through the
     * Worker's signed API, and no remote may be named. Unset: direct mode on `remote`.
     */
    worker: z
      .object({
        url: z.string().url().refine((u) => /^https?:\/\//.test(u), 'expected an http(s):// URL'),
        /** Connect timeout of every request to the Worker, ms (default 10000). */
        connectTimeoutMs: z.number().int().positive().max(600_000).optional(),
        /** Response timeout of every request to the Worker, ms (default 60000). */
        timeoutMs: z.number().int().positive().max(3_600_000).optional(),
      })
      .strict()
      .optional(),
    /** Which built-in plugins run (default: all four). */
    builtins: z.array(z.enum(BUILTIN_PLUGINS)).optional(),
    /** Third-party (and extra) plugins, applied after the built-ins. */
    plugins: z.array(pluginRef).optional(),
    /** The tick (the Worker's cron, `snappy run tick`). */
    tick: z
      .object({
        /** Time budget of one tick, ms (default 25000: a cron handler has 30 s of CPU). Taps stop starting work after it. */
        budgetMs: z.number().int().positive().max(900_000).optional(),
      })
      .strict()
      .optional(),
    /** Per-hook tap timeouts in ms, e.g. { onTick: 20000 }. */
    timeouts: z.record(z.string(), z.number().int().nonnegative()).optional(),
    /** Options of the built-in plugins; each plugin validates its own section. */
    aggregate: section.optional(),
    regen: section.optional(),
    sync: section.optional(),
    quorum: section.optional(),
  };

  const overrideSchema = z.object(overridable).strict();

  return z
    .object({
      ...overridable,
      /** Overrides by tenant id (12 hex), merged over the base config. */
      tenants: z.record(z.string().regex(/^[0-9a-f]{12}$/, 'expected a tenant id: 12 lower-case hex characters, the first 12 of the SHA-256 of the master key (`snappy ops key` prints it)'), overrideSchema).optional(),
      /** Overrides by machine id, merged over the base and tenant config. */
      machines: z.record(z.string().regex(MACHINE_ID, 'expected a machine id: 1-64 characters of [A-Za-z0-9._-] (`snappy status` prints this machine\'s)'), overrideSchema).optional(),
    })
    .strict();
}

/** The schema of `snappy.config.*`. */
export const configSchema = lazySchema(makeConfigSchema, 'config');

export type SnappyConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
/** The config after tenant and machine overrides: no `tenants` or `machines` left. */
export type ResolvedConfig = Omit<ParsedConfig, 'tenants' | 'machines'>;

/** Typed helper for `snappy.config.ts`. */
export function defineConfig(config: SnappyConfig): SnappyConfig {
  return config;
}

/**
 * Applies overrides: base, then `tenants[tenant]`, then `machines[machine]`. Objects merge
 * key by key; arrays and scalars replace.
 */
export function resolveConfig(config: ParsedConfig, who: { tenant?: string; machine?: string }): ResolvedConfig {
  const { tenants, machines, ...base } = config;
  let out: Record<string, unknown> = base;
  if (who.tenant && tenants?.[who.tenant]) out = deepMerge(out, tenants[who.tenant]!);
  if (who.machine && machines?.[who.machine]) out = deepMerge(out, machines[who.machine]!);
  return out as ResolvedConfig;
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
