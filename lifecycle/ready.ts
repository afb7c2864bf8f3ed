import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { ReadyOutcome } from '../core/hooks.ts';
import type { TaskContext } from '../core/plugin.ts';
import { listMarkers } from '../adapters/markers.ts';

/**
 * `snappy run regen`: ingest, then fire `onReady` once for every `ready/<skill>.ready`, all
 * markers at once (the regen plugin's queue bounds how many agents run). What each tap made
 * of its marker is reported; an outcome marked failed fails the run unless --auto, and the
 * markers stay for the next run. With markers waiting and nothing tapping `onReady`, it says
 * so: the markers are kept.
 */
export async function ready(t: TaskContext): Promise<void> {
  if (!t.flags.dryRun) await t.ingest();
  const { found, ignored } = await listMarkers(t.stateDir);
  for (const msg of ignored) t.log.warn(`${msg}; marker ignored`);
  if (t.flags.dryRun) {
    for (const m of found) t.log.info(`would regen ${m.skill} (${m.rel})`);
    t.report({ markers: found.map((m) => m.skill), dryRun: true });
    return;
  }
  const hook = t.runner.hooks.onReady;
  // Not isUsed(): the runner's interceptor is on every hook; taps are what count.
  if (found.length && hook.taps.length === 0) {
    const skipped = 'no plugin taps onReady (the regen plugin is not configured): markers kept';
    t.log.warn(`${found.length} ready marker(s) wait (${found.map((m) => m.skill).join(', ')}), but ${skipped}`);
    t.report({ markers: found.length, outcomes: [], skipped });
    return;
  }
  const outcomes: ReadyOutcome[] = [];
  try {
    // allSettled: one marker's error must not end the run while the others still work.
    const settled = await Promise.allSettled(
      found.map((m) =>
        hook.promise(t, {
          skill: m.skill,
          marker: m.rel,
          snapshot: m.marker.snapshot ?? null,
          reason: m.marker.reason ?? `${m.rel} was created by hand`,
          settle: (o) => void outcomes.push(o),
        }),
      ),
    );
    const broken = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (broken) throw broken.reason;
  } finally {
    t.report({ markers: found.length, outcomes });
  }
  const failed = outcomes.filter((o) => o.failed);
  if (failed.length && !t.flags.auto) {
    throw new SnappyError(`regen failed for ${failed.map((f) => `${f.skill} (${f.error ?? f.outcome})`).join('; ')}; markers kept`, { code: ErrorCode.TaskFailed, details: { failed } });
  }
}
