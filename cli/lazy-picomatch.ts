import type picomatchType from 'picomatch';
import { chunkLoader } from './lazy-chunk.ts';

/**
 * In the built package, domain/glob.ts's picomatch is this: picomatch itself, loaded from
 * dist/chunks/picomatch.cjs when first used. The globs of nearly every run (the default sync
 * lists) are matched without it (domain/glob.ts plainMatcher). The sources, the tests through
 * tsx and the Worker import picomatch as usual.
 */
const load = chunkLoader<typeof picomatchType>('./picomatch.cjs');

const picomatch = new Proxy(function picomatch() {} as unknown as typeof picomatchType, {
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  get: (_, k) => Reflect.get(load(), k),
});
export default picomatch;
