// A third-party plugin that declares a hook of its own: `onPromotion`, fired once for every
// rev the quorum promotes in a tick, in the Worker's cron and in `snappy run tick` alike.
// Other plugins tap it (listing this one in `dependsOn`) to announce, mirror or audit
// promotions without reading the quorum's results themselves.
import { AsyncSeriesHook, definePlugin, Stage, type TickContext } from '../../core/index.ts';
import type { ChangelogRow, QuorumTickReport } from '../../plugins/quorum/index.ts';

declare module '../../core/hooks.ts' {
  interface SnappyHooks {
    /** Once per rev the quorum promoted in this tick, after the promotion landed. */
    onPromotion: AsyncSeriesHook<[TickContext, ChangelogRow]>;
  }
}

export default definePlugin({
  name: 'promotion-events',
  // Bundles for workerd: no node: imports anywhere in it.
  runtimes: ['node', 'worker'],
  dependsOn: ['quorum'],
  apply(hooks, ctx) {
    // `observe`: one listener's failure (a webhook down) is reported and the others still hear of it.
    const onPromotion = ctx.defineHook('onPromotion', { hook: new AsyncSeriesHook(['tick', 'promotion']), failure: 'observe' });
    hooks.onTick.tapPromise({ name: ctx.name, stage: Stage.REPORT }, async (tick) => {
      const quorum = tick.results.quorum as QuorumTickReport | undefined;
      for (const row of quorum?.promoted ?? []) await onPromotion.promise(tick, row);
    });
  },
});
