import type { RunnerApi, TaskContext, TaskDefinition } from '../core/plugin.ts';
import { push, pull } from './push.ts';
import { ready } from './ready.ts';
import { runTick } from './tick.ts';

/** The tasks of the lifecycle, in the order `push --auto` runs them (with the ingest before regen). */
export const LIFECYCLE_TASKS = ['pull', 'regen', 'push', 'tick'] as const;
export type LifecycleTask = (typeof LIFECYCLE_TASKS)[number];

/**
 * Why a lifecycle task cannot do its work with the plugins configured, or undefined when it
 * can: push and pull need a transport (the sync plugin), a tick needs an `onTick` tap (the
 * quorum plugin). `snappy run` refuses such a task before any work; `push --auto` skips the
 * step and says so.
 */
export function missingFor(runner: RunnerApi, task: string): string | undefined {
  if ((task === 'push' || task === 'pull') && !runner.service('transport')) return `${task} needs a transport, and no configured plugin provides one (the sync plugin is not configured: config builtins)`;
  if (task === 'tick' && runner.hooks.onTick.taps.length === 0) return 'tick has nothing to run: no configured plugin taps onTick (the quorum plugin is not configured: config builtins)';
  return undefined;
}

/**
 * The tasks snappy itself defines (owned by `snappy`, not by a plugin): each fires its hooks
 * whichever plugins provide the work.
 */
export function lifecycleTasks(opts: { tickBudgetMs: number }): Record<LifecycleTask, TaskDefinition> {
  return {
    pull: { describe: 'fetch what changed on the remote (pages, briefs, staged revs, canonical) and merge new aggregate batches', run: skipIfMissing('pull', pull) },
    regen: { describe: 'ingest new eval rows, then fire onReady for every ready/<skill>.ready (regen: brief, agent, staged revision)', run: ready },
    push: { describe: 'ingest, plan what changed (pages, briefs, own staged revs, the aggregate outbox), let beforePush taps shape it, send it', run: skipIfMissing('push', push) },
    tick: {
      describe: "run the Worker's onTick chain (quorum promotion) in Node against --remote",
      run: skipIfMissing('tick', async (t) => {
        const blobs = await t.remote();
        try {
          const results = await runTick(t.runner.hooks, { blobs, kv: await t.kv(), log: t.log, runtime: 'node', budgetMs: opts.tickBudgetMs, clock: t.clock }, t.signal);
          t.report(results);
        } finally {
          // Direct mode keeps the alerts too (no webhook: snappy ops alerts, status and doctor show them).
          // Loaded here, not with this module: every run imports the task table, only a tick needs them.
          const { events } = await import('../domain/alerts.ts').then(({ DEFAULT_THRESHOLDS, updateAlerts }) => updateAlerts(blobs, DEFAULT_THRESHOLDS)).catch((err: Error) => {
            t.log.warn(`evaluating alerts failed: ${err.message}`);
            return { events: [] };
          });
          for (const e of events) t.log.warn(`alert ${e.event}: ${e.alert.id}: ${e.alert.message}`);
        }
      }),
    },
  };
}

/** Under --auto, a step whose provider is not configured is skipped with one line; otherwise `snappy run` refused it already. */
function skipIfMissing(task: string, run: (t: TaskContext) => Promise<void>): (t: TaskContext) => Promise<void> {
  return async (t) => {
    const missing = missingFor(t.runner, task);
    if (!missing) return run(t);
    t.log.info(`${task}: skipped: ${missing}`);
    t.report({ skipped: missing });
  };
}
