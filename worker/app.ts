import type { SnappyConfig } from '../core/config.ts';
import { quorumOptions } from '../plugins/quorum/options.ts';
import { runTick } from '../core/tick.ts';
import type { QuorumTickReport } from '../plugins/quorum/tick.ts';
import { tickLines } from '../plugins/quorum/words.ts';
import { storesOf } from './bindings.ts';
import type { Env, ExecCtx } from './env.ts';
import { consoleLogger, createWorkerRunner } from './runner.ts';
import { DEFAULT_WINDOW_MS, sweepReplays } from './tenant-auth.ts';

/** Cron handlers get 30 s of CPU; leave room to write results. */
const TICK_BUDGET_MS = 25_000;

/** The Worker's handlers around one runner built at module top level. */
export interface WorkerApp {
  fetch(req: Request, env: Env, ctx: ExecCtx): Promise<Response>;
  scheduled(event: { cron?: string; scheduledTime?: number }, env: Env, ctx: ExecCtx): Promise<void>;
}

export function createWorkerApp(raw: SnappyConfig): WorkerApp {
  const { runner, config } = createWorkerRunner(raw);
  // The routes show quorum progress with the same thresholds the tick applies.
  const quorum = quorumOptions.parse((config as Record<string, unknown>).quorum ?? {});
  const log = consoleLogger;

  const tick = async (env: Env, only?: readonly string[]): Promise<Record<string, unknown>> => {
    const { blobs, kv } = storesOf(env);
    const results = await runTick(runner.hooks, { now: Date.now(), budgetMs: TICK_BUDGET_MS, blobs, kv, log, ...(only ? { only } : {}) });
    // The same lines `snappy run tick` prints, for `wrangler tail`: one per rev decided or advanced.
    const q = results.quorum as QuorumTickReport | undefined;
    if (q && (q.revs.length || q.scan.batches)) for (const l of tickLines(q).info) log.info(l);
    return results;
  };

  return {
    async fetch(req, env, ctx) {
      const { route } = await import('./routes.ts');
      return route(req, env, ctx, { runner, quorum, tick });
    },
    async scheduled(_event, env) {
      await tick(env);
      // Answers kept for replays outlive the signature window by an hour, then go.
      await sweepReplays(storesOf(env), Date.now(), Number(env.SNAPPY_INGEST_WINDOW_MS ?? DEFAULT_WINDOW_MS)).catch((err) => log.warn(`sweeping replay records failed: ${(err as Error).message}`));
    },
  };
}
