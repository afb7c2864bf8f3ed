// Module resolve hook, for snappy running from its TypeScript sources (cli/from-sources.mjs):
// a plugin importing 'snappy-os' gets these sources, the same modules the CLI runs, and not
// dist/, which may be missing or older than the sources.
const ENTRY = new URL('../core/index.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'snappy-os') return { url: ENTRY, shortCircuit: true };
  return next(specifier, context);
}
