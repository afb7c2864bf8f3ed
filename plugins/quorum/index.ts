import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import { quorumOptions } from './options.ts';
import { createQuorumService } from './service.ts';
import { quorumTick } from './tick.ts';

export type { QuorumService, QuorumStores } from './service.ts';
export type { QuorumOptions } from './options.ts';
export type { RevStatus, Rejection } from './revs.ts';
export type { ChangelogRow, PromoteResult } from './promote.ts';
export type { Approval } from './ops.ts';
export type { QuorumTickReport, RevOutcome } from './tick.ts';
export { QuorumErrorCode } from './errors.ts';

/**
 * The quorum plugin (docs/contract.md, "Quorum"): on every tick, takes in new aggregate
 * batches and promotes each staged rev a quorum of distinct tenants endorses. Node-free: it
 * runs in the Worker's cron and in `snappy run tick` alike. Provides the `quorum` service the
 * Worker's routes and `snappy ops` act through.
 */
export default definePlugin({
  name: 'quorum',
  options: quorumOptions,
  runtimes: ['node', 'worker'],
  apply(hooks, ctx) {
    const opts = ctx.options;
    const service = createQuorumService(opts);
    ctx.provide('quorum', service);

    hooks.onTick.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (tick) => {
      const q = await quorumTick(tick, opts);
      tick.results.quorum = q;
      const s = q.scan;
      const busy = s.batches > 0 || q.revs.length > 0 || q.problems.length > 0 || q.partial;
      // A quiet tick says nothing: the Worker ticks every minute.
      if (busy || tick.runtime === 'node') {
        tick.log.info(`tick: ${s.batches} new batch(es) (${s.rows} rows${s.unstaged ? `, ${s.unstaged} of revs not staged, dropped` : ''}${s.invalid ? `, ${s.invalid} invalid` : ''}), ${q.promoted.length} promotion(s)${q.partial ? `; stopped at its deadline, ${s.backlog} batch(es) wait for the next tick` : ''}`);
        for (const r of q.revs) tick.log.info(`  ${r.rev}: ${r.outcome}: ${r.reason}`);
      }
    });

    hooks.onStatus.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, status) => {
      const blobs = await run.remote();
      if (blobs.fleetStatus) {
        // Worker mode: the tallies are the Worker's; it says what a tenant may see.
        const s = await blobs.fleetStatus();
        const staged = (s.staged ?? []) as { skill: string; rev: string; state: string; manualReview: string | null; endorsing: number; endorsingRuns: number; mean: number | null; thresholds: { minTenants: number; minRuns: number } }[];
        const last = s.last_quorum_promotion as { skill: string; rev_id: string; ts: string } | null;
        status.sections.quorum = { revs: staged, last_quorum_promotion: last, via: blobs.url };
        status.lines.push(`quorum (from ${blobs.url}): ${staged.length} staged rev(s) not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
        for (const r of staged) status.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual_review: ${r.manualReview})` : ''}: ${r.endorsing}/${r.thresholds.minTenants} tenants endorse, ${r.endorsingRuns}/${r.thresholds.minRuns} runs, mean ${r.mean ?? '-'}`);
        return;
      }
      const kv = await run.kv();
      const revs = await service.revs(blobs);
      const last = await service.lastPromotion(kv);
      status.sections.quorum = { revs, last_quorum_promotion: last };
      const open = revs.filter((r) => r.state !== 'promoted');
      status.lines.push(`quorum: ${revs.length} staged rev(s), ${open.length} not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
      for (const r of open) {
        if (r.state === 'quarantined') status.lines.push(`  ${r.skill}:${r.rev} quarantined, never to be promoted: ${r.quarantine?.reason ?? ''}`);
        else status.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual review: ${r.manualReview})` : ''}: ${r.endorsing}/${r.thresholds.minTenants} tenants endorse, ${r.endorsingRuns}/${r.thresholds.minRuns} runs, mean ${r.mean ?? '-'}`);
      }
    });
  },
});
