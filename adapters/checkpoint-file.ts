import { appendFileSync, existsSync } from 'node:fs';
import { setCheckpointListener } from '../core/checkpoint.ts';

/**
 * For tests only, off unless SNAPPY_TEST_PROGRESS names a file: each checkpoint appends
 * `<pid> <point> <n>` (its n-th pass in this process) to that file. SNAPPY_TEST_HOLD=<point>@<n>
 * stops the process right after reporting that pass until `<file>.release` exists (or the
 * test kills it there): a barrier for racing processes, an exact spot for a kill -9.
 */
export function listenFromEnv(env: NodeJS.ProcessEnv): void {
  const file = env.SNAPPY_TEST_PROGRESS;
  if (!file) return;
  const hold = /^(.+)@(\d+)$/.exec(env.SNAPPY_TEST_HOLD ?? '');
  const passes = new Map<string, number>();
  const nap = new Int32Array(new SharedArrayBuffer(4));
  setCheckpointListener((point) => {
    const n = (passes.get(point) ?? 0) + 1;
    passes.set(point, n);
    appendFileSync(file, `${process.pid} ${point} ${n}\n`);
    // Synchronous on purpose: nothing of this process moves on while it is held.
    if (hold && hold[1] === point && Number(hold[2]) === n) while (!existsSync(`${file}.release`)) Atomics.wait(nap, 0, 0, 2);
  });
}
