import type { SnappyConfig } from '../core/config.ts';
import { DEFAULT_TICK_BUDGET_MS, runTick } from '../lifecycle/tick.ts';
import { afterTick } from './alerts.ts';
import { compactStep } from './compact.ts';
import { storesOf } from './bindings.ts';
import type { Env, ExecCtx } from './env.ts';
import { consoleLogger, createWorkerRunner } from './runner.ts';
import { replayWindowMs, sweepReplays } from './tenant-auth.ts';

/** The Worker's handlers around one runner built at module top level. */
export interface WorkerApp {
  fetch(req: Request, env: Env, ctx: ExecCtx): Promise<Response>;
  scheduled(event: { cron?: string; scheduledTime?: number }, env: Env, ctx: ExecCtx): Promise<void>;
}

export function createWorkerApp(raw: SnappyConfig): WorkerApp {
  const { runner, config } = createWorkerRunner(raw);
  // The routes show quorum progress with the thresholds the tick applies: the plugin's own.
  const quorum = runner.service('quorum');
  const log = consoleLogger;
  const budgetMs = config.tick?.budgetMs ?? DEFAULT_TICK_BUDGET_MS;

  const tick = (env: Env, only?: readonly string[]): Promise<Record<string, unknown>> => {
    const { blobs, kv } = storesOf(env);
    return runTick(runner.hooks, { blobs, kv, log, runtime: 'worker', budgetMs, ...(only ? { only } : {}) });
  };

  return {
    async fetch(req, env, ctx) {
      const { route } = await import('./routes.ts');
      return route(req, env, ctx, { runner, quorum, tick });
    },
    async scheduled(_event, env) {
      const start = Date.now();
      let failure: unknown;
      try {
        await tick(env);
      } catch (err) {
        failure = err;
      }
      // A failed tick is exactly what the alerts are for: they are evaluated either way.
      await afterTick(env, storesOf(env), log).catch((err) => log.warn(`evaluating alerts failed: ${(err as Error).message}`));
      // Answers kept for replays outlive the signature window by an hour, then go.
      await sweepReplays(storesOf(env), Date.now(), replayWindowMs(env)).catch((err) => log.warn(`sweeping replay records failed: ${(err as Error).message}`));
      // Compaction follows the batches the tick took in; a failed one is retried by the next cron.
      await compactStep(env, storesOf(env), log, start + budgetMs).catch((err) => log.warn(`compacting the aggregate failed: ${(err as Error).message}`));
      if (failure !== undefined) throw failure;
    },
  };
}
