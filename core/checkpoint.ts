/**
 * Named points a run passes (an aggregate chunk committed, a pushed object written, a tick
 * step reached). The fault tests kill a process at the N-th point it reports instead of after
 * a delay, so each kill lands inside the operation it is meant for, and a seed replays it.
 * Nothing listens unless a host installs a listener: the CLI does when SNAPPY_TEST_PROGRESS
 * is set (adapters/checkpoint-file.ts); the Worker never does.
 */
let listener: ((point: string) => void) | undefined;

export function checkpoint(point: string): void {
  listener?.(point);
}

export function setCheckpointListener(fn: ((point: string) => void) | undefined): void {
  listener = fn;
}
