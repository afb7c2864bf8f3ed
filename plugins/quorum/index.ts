import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import { runTick } from '../../core/tick.ts';
import { quorumOptions } from './options.ts';
import { lastPromotion, revStatuses } from './revs.ts';
import { quorumTick, type QuorumTickReport } from './tick.ts';
import { count, progressWords, tickLines } from './words.ts';

/**
 * The quorum plugin (SPEC §11): on every tick, takes in new aggregate batches and promotes
 * each staged rev a quorum of distinct tenants endorses. Node-free: it runs in the Worker's
 * `scheduled` handler and in `snappy run tick` alike. Offers the task `tick`.
 */
export default definePlugin({
  name: 'quorum',
  options: quorumOptions,
  runtimes: ['node', 'worker'],
  apply(hooks, ctx) {
    const opts = ctx.options;
    hooks.onTick.tapPromise({ name: 'quorum', stage: Stage.DEFAULT }, async (tick) => {
      tick.results.quorum = await quorumTick(tick, opts);
    });

    hooks.onStatus.tapPromise({ name: 'quorum', stage: Stage.DEFAULT }, async (req) => {
      const blobs = await req.ctx.remote();
      if (blobs.fleetStatus) {
        // Worker mode: the tallies are the Worker's; it says what a tenant may see.
        const s = await blobs.fleetStatus();
        const staged = (s.staged ?? []) as { skill: string; rev: string; state: string; manualReview: string | null; endorsing: number; endorsingRuns: number; mean: number | null; thresholds: { minTenants: number; minRuns: number } }[];
        const last = s.last_quorum_promotion as { skill: string; rev_id: string; ts: string } | null;
        req.sections.quorum = { revs: staged, last_quorum_promotion: last, via: blobs.url };
        req.lines.push(`quorum (from ${blobs.url}): ${count(staged.length, 'staged rev')} not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
        for (const r of staged) req.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual_review: ${r.manualReview})` : ''}: ${progressWords(r, r.thresholds)}`);
        return;
      }
      const kv = await req.ctx.kv();
      const revs = await revStatuses(blobs, opts);
      const last = await lastPromotion(kv);
      req.sections.quorum = { revs, last_quorum_promotion: last };
      const open = revs.filter((r) => r.state !== 'promoted');
      req.lines.push(`quorum: ${count(revs.length, 'staged rev')}, ${open.length} not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
      for (const r of open) {
        if (r.state === 'quarantined') req.lines.push(`  ${r.skill}:${r.rev} quarantined, never to be promoted: ${r.quarantine?.reason ?? ''}`);
        else req.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual review: ${r.manualReview})` : ''}: ${progressWords(r, r.thresholds)}`);
      }
    });

    ctx.defineTask('tick', {
      describe: "run the Worker's onTick chain (quorum promotion) in Node against --remote",
      async run(task) {
        const blobs = await task.remote();
        const kv = await task.kv();
        const results = await runTick(task.runner.hooks, { now: Date.now(), budgetMs: opts.budgetMs, blobs, kv, log: task.log });
        task.report(results);
        const q = results.quorum as QuorumTickReport | undefined;
        if (q && !task.flags.json) {
          const lines = tickLines(q);
          for (const l of lines.info) task.log.info(l);
          for (const l of lines.warn) task.log.warn(l);
        }
      },
    });
  },
});
