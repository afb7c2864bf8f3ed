// Runs snappy from its TypeScript sources: tsx compiles them as they load, and 'snappy-os'
// resolves to them (cli/source-resolve.mjs). Imported by bin/snappy.cjs when dist/ is missing
// or older than the sources, and given to `node --import` by the Worker build's plugin plan.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

// Registered first, so it runs after tsx's own resolve, which then treats the file as TypeScript.
register('./source-resolve.mjs', import.meta.url);
registerTsx();
