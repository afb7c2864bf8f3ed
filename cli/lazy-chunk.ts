import { createRequire } from 'node:module';

/**
 * A CommonJS module of dist/chunks/ (zod, picomatch, yaml: scripts/build.mjs), loaded on the
 * first call of the function this returns. The built package's code that needs such a library
 * in only some runs imports it through a stand-in that calls this (cli/lazy-*.ts), so the
 * runs that do not need it never load it. Every caller is bundled into a module of
 * dist/chunks/, so `file` is named relative to that folder.
 */
export function chunkLoader<T>(file: string): () => T {
  let mod: T | undefined;
  return () => {
    if (mod === undefined) {
      // Not `require`: the bundler would bundle what a `require` names.
      const requireChunk = createRequire(import.meta.url);
      mod = requireChunk(file) as T;
    }
    return mod;
  };
}
