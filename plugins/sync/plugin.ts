import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import type { AggregateService } from '../aggregate/service.ts';
import { AGGREGATE_SERVICE } from '../aggregate/service.ts';
import { filterPlan } from './filter-tap.ts';
import { GlobList } from '../../domain/glob.ts';
import { syncOptionsSchema } from './options.ts';
import { SyncFilter } from './paths.ts';
import { runPull } from './pull.ts';
import { runPush } from './push.ts';

/** The sync plugin: tasks `push` and `pull`, and the allow/deny filter on `beforePush`. */
export const syncPlugin = definePlugin({
  name: 'sync',
  options: syncOptionsSchema,
  apply(hooks, ctx) {
    const options = ctx.options;
    const filter = new SyncFilter(new GlobList(options.allow), new GlobList(options.deny));
    // The aggregate plugin is optional: without it, no batches are shipped or merged.
    const aggregate = (): AggregateService | undefined => {
      try {
        return ctx.use<AggregateService>(AGGREGATE_SERVICE);
      } catch {
        return undefined;
      }
    };
    hooks.beforePush.tapPromise({ name: ctx.name, stage: Stage.FILTER }, async (plan) => filterPlan(plan, filter, ctx.log));
    ctx.defineTask('push', {
      describe: 'send what changed (pages, briefs, own staged revs) to the remote and ship the aggregate outbox',
      run: (t) => runPush(t, { options, filter, hooks, ...opt('aggregate', aggregate()) }),
    });
    ctx.defineTask('pull', {
      describe: 'fetch what changed on the remote (pages, briefs, staged revs, canonical) and merge new aggregate batches',
      run: (t) => runPull(t, { options, filter, ...opt('aggregate', aggregate()) }),
    });
  },
});

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}
