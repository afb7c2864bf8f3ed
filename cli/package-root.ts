import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The folder of snappy's own package.json. Found by walking up rather than by a fixed `..`:
 * this code runs from its sources (cli/) and from the built package (dist/, dist/chunks/).
 */
export const PACKAGE_ROOT: string = (() => {
  for (let d = path.dirname(fileURLToPath(import.meta.url)); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`snappy: no package.json above ${fileURLToPath(import.meta.url)}`);
  }
})();

/**
 * The library entry of this running snappy, as a file URL: the built one when the CLI runs
 * from dist/, the sources otherwise. A config importing 'snappy-os' is pointed here, so it
 * shares every class and hook with the CLI that loads it.
 */
export const LIBRARY_ENTRY: string = fileURLToPath(import.meta.url).startsWith(path.join(PACKAGE_ROOT, 'dist') + path.sep)
  ? pathToFileURL(path.join(PACKAGE_ROOT, 'dist', 'index.js')).href
  : pathToFileURL(path.join(PACKAGE_ROOT, 'core', 'index.ts')).href;

/** The package's name on the registry, as configs and plugins import it. */
export const PACKAGE_NAME = 'snappy-os';
