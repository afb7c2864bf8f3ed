// Module resolve hook: a config or plugin importing 'snappy-os' gets the library of the snappy
// that runs it, wherever the module lives. From the TypeScript sources (cli/from-sources.mjs)
// that is core/index.ts, not dist/, which may be missing or older than the sources; for a
// checkout running its build, the entry cli/library-resolve.ts passes (dist/index.js).
let entry = new URL('../core/index.ts', import.meta.url).href;

export function initialize(data) {
  if (data?.entry) entry = data.entry;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'snappy-os') return { url: entry, shortCircuit: true };
  return next(specifier, context);
}
