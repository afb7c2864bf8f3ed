import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheDirsFor, makeCacheDir, trustedCacheDir } from './cache-dir.ts';
import { LIBRARY_ENTRY, PACKAGE_NAME } from './package-root.ts';
import { importDefault, unwrapDefault } from './import-module.ts';

/** Bumped when the compiled form changes, so older cache entries are not reused. */
const SCHEME = 1;

/** What a cache entry was compiled from besides the config itself: its local imports, by content hash. */
interface Inputs {
  [file: string]: string;
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function stillSame(inputs: Inputs): boolean {
  for (const [file, hash] of Object.entries(inputs)) {
    try {
      if (sha(readFileSync(file)) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Imports a TypeScript config and returns its default export. It is compiled once by esbuild
 * into one ES module (its relative imports inlined, packages left as imports, 'snappy-os'
 * pointed at the running CLI's own library) and cached under node_modules/.cache/snappy,
 * keyed by the content of every file it was made from, as Vite does with vite.config.ts:
 * later runs import the cached module and load neither esbuild nor tsx. Bare imports in the
 * cached module resolve from that node_modules, as they would from the config's folder.
 * Without a node_modules folder above the config, the cache is the user's (XDG_CACHE_HOME or
 * ~/.cache), else the system's temporary folder; when none can be written, it goes through tsx.
 */
export async function importTsConfig(file: string): Promise<unknown> {
  const source = readFileSync(file);
  // Per config and per library: a checkout runs its sources and its build by turns, and each
  // would otherwise throw the other's compilation away (see compile).
  const stem = `${path.basename(file).replace(/\W+/g, '_')}-${sha(`${file}\0${LIBRARY_ENTRY}`).slice(0, 8)}`;
  const key = sha(`${SCHEME}\0${LIBRARY_ENTRY}\0${file}\0${sha(source)}`).slice(0, 16);
  const dirs = cacheDirsFor(path.dirname(file), 'config');
  for (const dir of dirs) {
    const out = path.join(dir, `${stem}-${key}.mjs`);
    try {
      if (existsSync(out) && trustedCacheDir(dir) && stillSame(JSON.parse(readFileSync(`${out}.json`, 'utf8')) as Inputs)) return unwrapDefault(await import(pathToFileURL(out).href));
    } catch {}
  }
  // Outside node_modules, a compiled module could not resolve a package it imports (through a
  // relative import of a file that sits under some other node_modules): tsx, from where it is.
  const anywhere = !dirs[0]!.includes(`${path.sep}node_modules${path.sep}`);
  for (const dir of dirs) {
    const out = path.join(dir, `${stem}-${key}.mjs`);
    try {
      if (!(await compile(file, out, `${out}.json`, anywhere))) break;
    } catch (err) {
      // A cache folder we cannot write (a read-only home) costs speed, never the run.
      if (isFsError(err)) continue;
      throw err;
    }
    return unwrapDefault(await import(pathToFileURL(out).href));
  }
  return importDefault(file);
}

function isFsError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException)?.code === 'string' && /^E(ACCES|PERM|ROFS|NOSPC|EXIST|NOTDIR|NOENT)$/.test((err as NodeJS.ErrnoException).code!);
}

/** Compiles `file` into `out`; false, writing nothing, when `selfContained` and it imports a package other than ours. */
async function compile(file: string, out: string, meta: string, selfContained: boolean): Promise<boolean> {
  const esbuild = await import('esbuild');
  const dir = path.dirname(file);
  const result = await esbuild.build({
    entryPoints: [file],
    absWorkingDir: dir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'snappy-os',
        setup(build) {
          build.onResolve({ filter: new RegExp(`^${PACKAGE_NAME}$`) }, () => ({ path: LIBRARY_ENTRY, external: true }));
        },
      },
    ],
  });
  if (selfContained) {
    for (const o of Object.values(result.metafile.outputs)) {
      if (o.imports.some((i) => i.external && !i.path.startsWith('node:') && i.path !== LIBRARY_ENTRY)) return false;
    }
  }
  const inputs: Inputs = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const abs = path.resolve(dir, input);
    if (abs !== file && !abs.includes(`${path.sep}node_modules${path.sep}`)) inputs[abs] = sha(readFileSync(abs));
  }
  if (!makeCacheDir(path.dirname(out))) throw Object.assign(new Error(`${path.dirname(out)} is not a cache folder to trust`), { code: 'EACCES' });
  // Written aside and renamed: a process importing the entry never sees half of it.
  const tmp = `${out}.${process.pid}.tmp`;
  await fs.writeFile(tmp, result.outputFiles[0]!.contents);
  await fs.rename(tmp, out);
  await fs.writeFile(`${meta}.${process.pid}.tmp`, JSON.stringify(inputs));
  await fs.rename(`${meta}.${process.pid}.tmp`, meta);
  // Older compilations of this same config for this same library are of no further use.
  const stem = path.basename(out).replace(/-[0-9a-f]{16}\.mjs$/, '-');
  for (const name of readdirSync(path.dirname(out))) {
    if (name.startsWith(stem) && !name.startsWith(path.basename(out))) await fs.rm(path.join(path.dirname(out), name), { force: true });
  }
  return true;
}
