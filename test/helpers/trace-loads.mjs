// Preloaded with `node --import ./test/helpers/trace-loads.mjs`: prints `LOAD <url>` on stderr
// for every module the process resolves, so a test can prove what start-up did not load.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  writeSync(2, 'LOAD ' + r.url + '\\n');
  return r;
}`),
);
