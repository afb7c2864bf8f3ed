/**
 * Seeds for the property suites: fixed by default so every run (and CI) tries the same
 * cases; SNAPPY_FUZZ_SEED=<n> replays or explores another seed, SNAPPY_FUZZ_SCALE=<x>
 * multiplies the case counts. The seed is printed so a failure can be replayed.
 */
export function fuzzSeed(file: string, fallback: number): number {
  const env = process.env.SNAPPY_FUZZ_SEED;
  const seed = env !== undefined && env !== '' ? Number(env) : fallback;
  if (!Number.isSafeInteger(seed)) throw new Error(`SNAPPY_FUZZ_SEED=${JSON.stringify(env)} is not an integer`);
  console.log(`[${file}] seed ${seed} (replay: SNAPPY_FUZZ_SEED=${seed})`);
  return seed;
}

/** `n` scaled by SNAPPY_FUZZ_SCALE (default 1), at least 1. */
export function runs(n: number): number {
  const scale = Number(process.env.SNAPPY_FUZZ_SCALE ?? '1');
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

export { prng } from './prng.ts';

/**
 * fast-check parameters for the property suites of one file: the file's seed (see fuzzSeed)
 * and `n` runs scaled by SNAPPY_FUZZ_SCALE. A failure prints the seed and the shrunk case.
 */
export function propertyParams(file: string, fallback: number): (n: number) => { seed: number; numRuns: number } {
  const seed = fuzzSeed(file, fallback);
  return (n) => ({ seed, numRuns: runs(n) });
}
