import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ParseMemo } from '../core/lazy-schema.ts';
import { cacheDirsFor, makeCacheDir, trustedCacheDir } from './cache-dir.ts';

/** Set by the build (scripts/build.mjs): a hash of everything the build was made from. */
declare const __SNAPPY_BUILD__: string | undefined;

/** The build this CLI is; undefined when it runs from its sources, whose schemas may change under it. */
export const BUILD_ID: string | undefined = typeof __SNAPPY_BUILD__ === 'string' ? __SNAPPY_BUILD__ : undefined;

/** Past this many entries the memo starts over: a machine's config parses to a handful. */
const MAX_ENTRIES = 256;

/** Memos of other builds kept beside this one's (two versions run by turns each keep theirs); older ones go. */
const KEEP_OTHER_BUILDS = 3;

interface MemoFile {
  build: string;
  entries: Record<string, string>;
}

/**
 * The parse memo of the built CLI (core/lazy-schema.ts): snappy's own schemas' successful
 * parses, in `<build>.json` of the `parse-memo` cache folder for `dir` (cli/cache-dir.ts). A
 * no-op cron run so validates its config and plugin options without loading zod. Read once;
 * written back, aside and renamed, when the process exits having added to it. Undefined from
 * the sources. An unreadable, damaged or foreign file is an empty memo.
 */
export function openParseMemo(dir: string, build: string | undefined = BUILD_ID): ParseMemo | undefined {
  if (!build || !/^[0-9a-f]{16}$/.test(build)) return undefined;
  const folder = cacheDirsFor(dir, 'parse-memo')[0]!;
  const file = path.join(folder, `${build}.json`);
  let entries: Record<string, string> = Object.create(null);
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as MemoFile;
    if (trustedCacheDir(folder) && f && f.build === build && f.entries && typeof f.entries === 'object') Object.assign(entries, f.entries);
  } catch {
    // None yet, or not one to read: start empty.
  }
  let dirty = false;
  process.once('exit', () => {
    if (!dirty) return;
    try {
      if (!makeCacheDir(folder)) return;
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ build, entries } satisfies MemoFile));
      renameSync(tmp, file);
      const others = readdirSync(folder)
        .filter((n) => /^[0-9a-f]{16}\.json$/.test(n) && n !== path.basename(file))
        .map((n) => ({ n, t: statSync(path.join(folder, n)).mtimeMs }))
        .sort((a, b) => b.t - a.t);
      for (const o of others.slice(KEEP_OTHER_BUILDS)) rmSync(path.join(folder, o.n), { force: true });
    } catch {
      // A cache that cannot be written costs the next run some speed, never this one.
    }
  });
  return {
    get: (key) => {
      const v = entries[key];
      return typeof v === 'string' ? v : undefined;
    },
    set: (key, value) => {
      if (Object.keys(entries).length >= MAX_ENTRIES) entries = Object.create(null);
      entries[key] = value;
      dirty = true;
    },
  };
}
