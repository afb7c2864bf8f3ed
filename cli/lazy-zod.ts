import type { z as Z } from 'zod';
import { chunkLoader } from './lazy-chunk.ts';

/**
 * In the built package, every `z` (ours, and the one `snappy-os` exports to configs and
 * plugins) is this: zod itself, loaded from dist/chunks/zod.cjs on the first use of any of its
 * names. A run whose schemas are all remembered (core/lazy-schema.ts) never loads it: with the
 * memo, 20 ms less of a no-op `push --auto` on Node 24. zod is loaded without its JIT (see
 * cli/jitless.ts). The sources, the tests through tsx and the Worker import zod as usual.
 */
const loadZod = chunkLoader<{ z: typeof Z }>('./zod.cjs');
let real: typeof Z | undefined;
const load = (): typeof Z => {
  if (!real) {
    real = loadZod().z;
    real.config({ jitless: true });
  }
  return real;
};

export const z: typeof Z = new Proxy({} as typeof Z, {
  get: (_, k) => Reflect.get(load(), k),
  has: (_, k) => k in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, k) => {
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  },
});
