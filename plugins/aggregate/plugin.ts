import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import { State } from '../../domain/state-layout.ts';
import { Aggregator } from './aggregator.ts';
import { readCommit } from './store.ts';
import { aggregateOptions } from './options.ts';
import { createAggregateService } from './service-impl.ts';

/**
 * The built-in aggregate plugin: turns each new eval row into one anonymized row of
 * `log/evals.aggregate.ndjson` (locked schema v1), exactly once: rows are collected on
 * `afterEval` and written in one append on `afterIngest`. Provides the `aggregate` service
 * (the outbox and the merge) the transport ships and pulls through.
 */
export const aggregatePlugin = definePlugin({
  name: 'aggregate',
  options: aggregateOptions,
  apply(hooks, ctx) {
    const agg = new Aggregator(ctx.log);
    // Synchronous: a million rows cost a loop, not a million promises (see Runner.each).
    hooks.afterEval.tap({ name: ctx.name, stage: Stage.DEFAULT }, (run, ev) => agg.collect(run, ev));
    hooks.afterIngest.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, (run, batch) => agg.onBatch(run, batch));
    ctx.provide('aggregate', createAggregateService(agg));
    hooks.onStatus.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, status) => {
      const commit = await readCommit(run.stateDir);
      const unshipped = (commit?.own ?? []).reduce((n, [s, e]) => n + (e - s), 0);
      const keySet = !!run.identity.masterKey;
      status.sections.aggregate = { file: State.aggregate, bytes: commit?.size ?? 0, unshippedBytes: unshipped, evalOffset: commit?.evalOffset ?? 0, masterKey: keySet };
      status.lines.push(`aggregate: ${commit?.size ?? 0} bytes in ${State.aggregate}, ${unshipped} bytes of this machine's rows not shipped yet${keySet ? '' : ' (SNAPPY_MASTER_KEY unset: not aggregating)'}`);
    });
    ctx.defineTask('aggregate', {
      describe: 'ingest new eval rows into the anonymized aggregate (log/evals.aggregate.ndjson)',
      async run(t) {
        if (t.flags.dryRun) {
          t.report({ dryRun: true });
          return;
        }
        const summary = await t.ingest();
        const malformed = summary.malformed.length;
        if (!agg.keyOf(t)) {
          t.report({ ok: false, skipped: 'SNAPPY_MASTER_KEY unset', rows: 0, malformed, skippedNoKey: agg.counts.skippedNoKey });
          return;
        }
        await agg.catchUpToIngest(t);
        await agg.flush(t.stateDir);
        const c = agg.counts;
        t.report({ rows: c.aggregated, caughtUp: c.caughtUp, duplicates: c.duplicates, malformed, skippedNoKey: 0, file: State.aggregate, ...(agg.collisions ? { collisions: agg.collisions } : {}) });
        agg.collisions = undefined;
        if (!t.flags.quiet && !t.flags.json) {
          const extra = [c.caughtUp ? `${c.caughtUp} caught up` : '', c.duplicates ? `${c.duplicates} already present` : '', malformed ? `${malformed} malformed skipped` : ''].filter(Boolean);
          t.log.info(`aggregated ${c.aggregated} row(s) into ${State.aggregate}${extra.length ? ` (${extra.join(', ')})` : ''}`);
        }
      },
    });
  },
});
