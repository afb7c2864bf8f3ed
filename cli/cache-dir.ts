import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Where snappy keeps what it caches for the project in `dir` (compiled `.ts` configs, parse
 * results), best first: `node_modules/.cache/snappy/<what>` of the nearest node_modules above
 * `dir`; without one (a project run by a global install), the user's cache folder
 * (XDG_CACHE_HOME or ~/.cache), then the system's temporary one.
 */
export function cacheDirsFor(dir: string, what: string): string[] {
  for (let d = dir; ; d = path.dirname(d)) {
    const nm = path.join(d, 'node_modules');
    if (existsSync(nm)) return [path.join(nm, '.cache', 'snappy', what)];
    if (path.dirname(d) === d) break;
  }
  const home = process.env.XDG_CACHE_HOME || (homedir() ? path.join(homedir(), '.cache') : '');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return [...(home && path.isAbsolute(home) ? [path.join(home, 'snappy', what)] : []), path.join(tmpdir(), `snappy-${what}-${uid}`)];
}

/**
 * Whether what sits in cache folder `dir` may be trusted. In the system's temporary folder,
 * shared by every user, another one could have made it first to plant entries (a compiled
 * config is code this process runs): there it must be ours, and writable by us alone.
 */
export function trustedCacheDir(dir: string): boolean {
  if (typeof process.getuid !== 'function' || !dir.startsWith(tmpdir() + path.sep)) return true;
  const st = statSync(dir, { throwIfNoEntry: false });
  return !st || (st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0);
}

/** Makes cache folder `dir` (only the user may write it); false when it is not one to trust. */
export function makeCacheDir(dir: string): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return trustedCacheDir(dir);
}
