import { pathToFileURL } from 'node:url';
import { resolveLibraryEverywhere } from './library-resolve.ts';

/**
 * Imports a config or plugin module by absolute path and returns its default export (or the
 * namespace when it has none). TypeScript files go through tsx's `tsImport`, which also
 * follows their relative TS imports, wherever they live and whatever their package type.
 */
export async function importDefault(file: string): Promise<unknown> {
  resolveLibraryEverywhere();
  let mod: unknown;
  if (/\.[cm]?ts$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    mod = await tsImport(pathToFileURL(file).href, import.meta.url);
  } else {
    mod = await import(pathToFileURL(file).href);
  }
  return unwrapDefault(mod);
}

/** A TS file compiled as CommonJS comes back as `{ default: { default: value } }`: peel it. */
export function unwrapDefault(mod: unknown): unknown {
  let v = mod;
  for (let i = 0; i < 3; i++) {
    if (!v || typeof v !== 'object' || !('default' in v)) break;
    const keys = Object.keys(v).filter((k) => k !== '__esModule' && k !== 'module.exports');
    const inner = (v as { default: unknown }).default;
    if (keys.length === 1 || (inner && typeof inner === 'object' && 'default' in inner)) v = inner;
    else {
      v = inner;
      break;
    }
  }
  return v;
}
