import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, SnappyError, messageOf } from '../core/errors.ts';
import type { z } from 'zod';
import { BUILTIN_PLUGINS, configSchema, deepMerge, type BuiltinPlugin, type ParsedConfig } from '../core/config.ts';
import { formatIssues, issuesOf, type Issue } from '../core/validate.ts';

/** A loaded, validated config and where it came from. */
export interface LoadedConfig {
  config: ParsedConfig;
  /** Absolute path of the file, or undefined when none was found (built-in defaults). */
  file?: string;
}

export const SEARCH_PLACES = ['package.json', 'snappy.config.ts', 'snappy.config.mts', 'snappy.config.js', 'snappy.config.mjs', 'snappy.config.json'];

/** `.ts`/`.js` configs are imported as modules; their default export is the config. */
async function importLoader(filepath: string): Promise<unknown> {
  const { importDefault } = await import('./import-module.ts');
  return importDefault(filepath);
}

/** A TypeScript config is compiled once and cached (config-compile.ts). */
async function tsLoader(filepath: string): Promise<unknown> {
  const { importTsConfig } = await import('./config-compile.ts');
  return importTsConfig(filepath);
}

/**
 * Finds and validates the config: `explicit` (--config / SNAPPY_CONFIG) when given, else the
 * first of SEARCH_PLACES in `dir`. Every error names the file and, for invalid content, the
 * path inside it and what was expected (code E_CONFIG, exit 2).
 */
export async function loadConfig(opts: { explicit?: string; dir: string }): Promise<LoadedConfig> {
  const file = opts.explicit ? path.resolve(opts.explicit) : undefined;
  if (file && !existsSync(file)) {
    throw new SnappyError(`config file ${file} does not exist`, { code: ErrorCode.Config });
  }
  let result;
  try {
    result = await plainConfig(file, opts.dir);
    if (result === FOR_COSMICONFIG) result = await searchWithCosmiconfig(file, opts.dir);
  } catch (err) {
    const where = file ?? (err as { filepath?: string }).filepath ?? opts.dir;
    throw new SnappyError(`cannot load config ${where}: ${messageOf(err).split('\n')[0]}`, { code: ErrorCode.Config, cause: err });
  }
  if (!result || result.isEmpty) return { config: configSchema.parse({}), ...(result ? { file: result.filepath } : {}) };
  const parsed = configSchema.safeParse(result.config);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error, '', configSchema);
    throw new SnappyError(`invalid config ${result.filepath}:\n${formatIssues(issues)}`, { code: ErrorCode.Config, details: { file: result.filepath, issues } });
  }
  return { config: parsed.data, file: result.filepath };
}

interface Found {
  config: unknown;
  filepath: string;
  isEmpty?: boolean;
}

const FOR_COSMICONFIG = Symbol('for cosmiconfig');

/** The places cosmiconfig reads its own options from, in the current folder. */
const META_PLACES = ['package.yaml', '.config/config.json', '.config/config.yaml', '.config/config.yml', '.config/config.js', '.config/config.ts', '.config/config.cjs', '.config/config.mjs'];

/**
 * What cosmiconfig would find, found without loading it (a good part of a run's start) when
 * the case is plain: no cosmiconfig options of its own in the current folder, no `snappy`
 * key in package.json, and a config file that is there, not empty, loads without error and
 * holds an object without `$import`. Null when there is no config; FOR_COSMICONFIG for
 * anything else, which cosmiconfig then handles (and words) as it always did.
 */
async function plainConfig(explicit: string | undefined, dir: string): Promise<Found | null | typeof FOR_COSMICONFIG> {
  const cwd = process.cwd();
  if (META_PLACES.some((p) => existsSync(path.join(cwd, p)))) return FOR_COSMICONFIG;
  for (const folder of new Set([cwd, ...(explicit ? [] : [dir])])) {
    const pkg = readJson(path.join(folder, 'package.json'));
    if (pkg === FOR_COSMICONFIG || (pkg && (Object.hasOwn(pkg, 'cosmiconfig') || Object.hasOwn(pkg, 'snappy')))) return FOR_COSMICONFIG;
  }
  let file = explicit;
  if (!file) {
    for (const place of SEARCH_PLACES.filter((p) => p !== 'package.json')) {
      const st = statSync(path.join(dir, place), { throwIfNoEntry: false });
      if (!st) continue;
      if (!st.isFile()) return FOR_COSMICONFIG;
      file = path.join(dir, place);
      break;
    }
    if (!file) return null;
  }
  const ext = path.extname(file);
  const content = readFileSync(file, 'utf8');
  if (content.trim() === '') return FOR_COSMICONFIG;
  let config: unknown;
  if (ext === '.json') {
    try {
      config = JSON.parse(content);
    } catch {
      return FOR_COSMICONFIG;
    }
  } else {
    const loader = ({ '.ts': tsLoader, '.mts': tsLoader, '.js': importLoader, '.mjs': importLoader } as Record<string, (f: string) => Promise<unknown>>)[ext];
    if (!loader) return FOR_COSMICONFIG;
    try {
      config = await loader(file);
    } catch (err) {
      // cosmiconfig passes over a place whose load fails with these, when searching.
      const code = (err as NodeJS.ErrnoException)?.code;
      if (!explicit && (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EACCES')) return FOR_COSMICONFIG;
      if (err && typeof err === 'object') Object.assign(err, { filepath: file });
      throw err;
    }
  }
  if (config === undefined || config === null || (typeof config === 'object' && Object.hasOwn(config, '$import'))) return FOR_COSMICONFIG;
  return { config, filepath: file };
}

/** A package.json's object; undefined when there is none; FOR_COSMICONFIG when it is unreadable or not an object. */
function readJson(file: string): Record<string, unknown> | undefined | typeof FOR_COSMICONFIG {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : FOR_COSMICONFIG;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : FOR_COSMICONFIG;
  } catch {
    return FOR_COSMICONFIG;
  }
}

async function searchWithCosmiconfig(file: string | undefined, dir: string): Promise<Found | null> {
  const mod = (await import('cosmiconfig')) as typeof import('cosmiconfig') & { default?: typeof import('cosmiconfig') };
  // A named export in Node and under tsx; only `default` (its module.exports) where the build bundled this CommonJS package.
  const cosmiconfig = mod.cosmiconfig ?? mod.default!.cosmiconfig;
  const loaders = { '.ts': tsLoader, '.mts': tsLoader, '.js': importLoader, '.mjs': importLoader };
  const explorer = cosmiconfig('snappy', { searchPlaces: SEARCH_PLACES, loaders, searchStrategy: 'none', cache: false });
  return file ? await explorer.load(file) : await explorer.search(dir);
}

/**
 * Checks the options of every built-in plugin as the base config and each `tenants.<id>` and
 * `machines.<id>` override (merged over the base) leave them, so that a bad value in one
 * tenant's override stops every run at load time, not only that tenant's. An issue the base
 * already has is reported once, at its own path; one an override brings is reported under the
 * override (`tenants.<id>.regen.pid.setpoint`). `schemaOf` gives a built-in's options schema.
 */
export async function checkBuiltinOptions(loaded: LoadedConfig, schemaOf: (name: BuiltinPlugin) => Promise<z.ZodType | undefined>): Promise<void> {
  const { tenants, machines, ...base } = loaded.config;
  const views: { where: string; config: Record<string, unknown> }[] = [{ where: '', config: base }];
  for (const [id, o] of Object.entries(tenants ?? {})) views.push({ where: `tenants.${id}`, config: deepMerge(base, o as Record<string, unknown>) });
  for (const [id, o] of Object.entries(machines ?? {})) views.push({ where: `machines.${id}`, config: deepMerge(base, o as Record<string, unknown>) });
  const issues: Issue[] = [];
  const baseIssues = new Map<BuiltinPlugin, Set<string>>();
  const enabledIn = (view: { config: Record<string, unknown> }) => (view.config.builtins as BuiltinPlugin[] | undefined) ?? BUILTIN_PLUGINS;
  // The plugins' modules load side by side, not each waiting for the one before.
  const names = [...new Set(views.flatMap(enabledIn))];
  const schemas = new Map(await Promise.all(names.map(async (name) => [name, await schemaOf(name)] as const)));
  for (const view of views) {
    for (const name of enabledIn(view)) {
      const schema = schemas.get(name);
      if (!schema) continue;
      const res = schema.safeParse(view.config[name] ?? {});
      const found = res.success ? [] : issuesOf(res.error, name, schema);
      if (view.where === '') {
        baseIssues.set(name, new Set(found.map((i) => `${i.path}\0${i.message}`)));
        issues.push(...found);
        continue;
      }
      const known = baseIssues.get(name);
      for (const i of found) if (!known?.has(`${i.path}\0${i.message}`)) issues.push({ path: `${view.where}.${i.path}`, message: i.message });
    }
  }
  if (issues.length) {
    const where = loaded.file ?? 'the built-in defaults';
    throw new SnappyError(`invalid config ${where}:\n${formatIssues(issues)}`, { code: ErrorCode.Config, details: { file: loaded.file ?? null, issues } });
  }
}
