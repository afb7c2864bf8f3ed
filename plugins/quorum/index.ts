import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import { quorumOptions } from './options.ts';
import { quorumServiceOnDemand } from './service-on-demand.ts';
import { count, leftWords, progressWords } from './words.ts';
import { watchLines, watchView, type WatchView } from './watch-view.ts';

export type { QuorumService, QuorumStores } from './service.ts';
export type { QuorumOptions } from './options.ts';
export type { RevStatus, Rejection } from './revs.ts';
export type { ChangelogRow, PromoteResult } from './promote.ts';
export type { Approval } from './ops.ts';
export type { QuorumTickReport, RevOutcome } from './tick.ts';
export type { RollbackResult } from './rollback.ts';
export type { MarkResult } from './marks.ts';
export type { RevExpiry } from './expiry.ts';
export type { RegressionCheck } from './regression.ts';
export type { WatchReport, WatchStatus, RollbackStatus } from './watch-status.ts';
export type { WatchOutcome } from './watch-tick.ts';
export type { WatchView, WatchSummary, RollbackSummary } from './watch-view.ts';
export type { SkillView, HistoryItem, ScoreSeries, DayPoint, RevProgress, WatchProgress, TenantPart } from './skill-view.ts';
export { watchView } from './watch-view.ts';
export type { WatchVerdict, TenantVerdict } from './objection.ts';
export { QuorumErrorCode } from './errors.ts';
export { progressWords, tenantsWords } from './words.ts';

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
    const service = quorumServiceOnDemand(opts);
    ctx.provide('quorum', service);

    hooks.onTick.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (tick) => {
      // Loaded here, not with the plugin: most runs apply it and never tick.
      const [{ quorumTick }, { tickLines }] = await Promise.all([import('./tick.ts'), import('./tick-lines.ts')]);
      const q = await quorumTick(tick, opts);
      tick.results.quorum = q;
      const s = q.scan;
      const busy = s.batches > 0 || q.revs.length > 0 || q.problems.length > 0 || q.partial;
      // A quiet tick says nothing: the Worker ticks every minute.
      if (busy || tick.runtime === 'node') {
        // One line per rev decided or advanced (the skipped objects were warned of as found).
        for (const l of tickLines(q)) tick.log.info(l);
      }
    });

    hooks.onStatus.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, status) => {
      const blobs = await run.remote();
      if (blobs.fleetStatus) {
        // Worker mode: the tallies are the Worker's; it says what a tenant may see.
        const s = await blobs.fleetStatus();
        const staged = (s.staged ?? []) as { skill: string; rev: string; state: string; manualReview: string | null; endorsing: number; endorsingRuns: number; mean: number | null; thresholds: { minTenants: number; minRuns: number }; expiry?: { words?: string; expiresAt?: string | null } | null; regression?: { words?: string } | null }[];
        const last = s.last_quorum_promotion as { skill: string; rev_id: string; ts: string } | null;
        const watch = (s.watch ?? null) as WatchView | null;
        status.sections.quorum = { revs: staged, last_quorum_promotion: last, via: blobs.url, ...(watch ? { watch } : {}) };
        status.lines.push(`quorum (from ${blobs.url}): ${count(staged.length, 'staged rev')} not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
        for (const r of staged) {
          // A Worker of an earlier release sends no expiry: its countdown is then as of its answer.
          const expiry = r.expiry?.expiresAt && r.state !== 'expired' ? countdown(Date.parse(r.expiry.expiresAt), run.clock.now()) : r.expiry?.words;
          status.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual_review: ${r.manualReview})` : ''}: ${progressWords(r, r.thresholds)}${expiry ? `; ${expiry}` : ''}`);
          if (r.regression?.words) status.lines.push(`    regression gate: ${r.regression.words}`);
        }
        if (watch) status.lines.push(...watchLines(watch));
        return;
      }
      const kv = await run.kv();
      const revs = await service.revs(blobs, run.clock.now());
      const last = await service.lastPromotion(kv);
      const watch = watchView(await service.watch({ blobs, kv }));
      status.sections.quorum = { revs, last_quorum_promotion: last, watch };
      const open = revs.filter((r) => r.state !== 'promoted');
      status.lines.push(`quorum: ${count(revs.length, 'staged rev')}, ${open.length} not promoted; last promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
      for (const r of open) {
        if (r.state === 'quarantined') status.lines.push(`  ${r.skill}:${r.rev} quarantined, never to be promoted: ${r.quarantine?.reason ?? ''}`);
        else {
          status.lines.push(`  ${r.skill}:${r.rev} ${r.state}${r.manualReview ? ` (manual review: ${r.manualReview})` : ''}: ${progressWords(r, r.thresholds)}${r.expiry.words ? `; ${r.expiry.words}` : ''}`);
          if (r.regression) status.lines.push(`    regression gate: ${r.regression.words}`);
        }
      }
      status.lines.push(...watchLines(watch));
    });
  },
});

/** `expires in 3 days` from an expiry time, as of `now`. */
function countdown(at: number, now: number): string | undefined {
  if (!Number.isFinite(at)) return undefined;
  return at > now ? `expires in ${leftWords(at - now)}` : 'due to expire at the next tick';
}
