import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LIBRARY_ENTRY, PACKAGE_NAME, PACKAGE_ROOT } from './package-root.ts';

let registered = false;

/**
 * When a checkout runs its build (dist/), lets a config or plugin module anywhere import
 * 'snappy-os' and get the running CLI's library: nothing installs the package there, and
 * the module may sit in any folder. Run from the sources, cli/from-sources.mjs does the same;
 * an installed package resolves through its project's node_modules. Called before the first
 * such module loads, so a run without one pays nothing for the hook.
 */
export function resolveLibraryEverywhere(): void {
  if (registered) return;
  registered = true;
  if (!LIBRARY_ENTRY.endsWith('/dist/index.js') || /[\\/]node_modules[\\/]/.test(PACKAGE_ROOT)) return;
  // Node 22.15+ runs synchronous hooks in this thread; older ones start a thread for them.
  if (typeof module.registerHooks === 'function') {
    module.registerHooks({ resolve: (specifier, context, next) => (specifier === PACKAGE_NAME ? { url: LIBRARY_ENTRY, shortCircuit: true } : next(specifier, context)) });
  } else {
    module.register(pathToFileURL(path.join(PACKAGE_ROOT, 'cli', 'source-resolve.mjs')), { parentURL: import.meta.url, data: { entry: LIBRARY_ENTRY } });
  }
}
