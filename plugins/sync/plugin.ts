import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import { filterPlan } from './filter-tap.ts';
import { GlobList } from '../../domain/glob.ts';
import { syncOptionsSchema } from './options.ts';
import { SyncFilter } from './paths.ts';
import { runPull } from './pull.ts';
import { preparePush, sendPush } from './push.ts';

/**
 * The sync plugin: provides the `transport` the push and pull lifecycle moves files with, and
 * taps `beforePush` with the allow/deny filter. Ships and merges the aggregate through the
 * `aggregate` service when a plugin provides it.
 */
export const syncPlugin = definePlugin({
  name: 'sync',
  options: syncOptionsSchema,
  apply(hooks, ctx) {
    const options = ctx.options;
    const filter = new SyncFilter(new GlobList(options.allow), new GlobList(options.deny));
    // Found at run time: the aggregate plugin is optional, and without it no batches move.
    const deps = () => ({ options, filter, aggregate: ctx.find('aggregate') });
    hooks.beforePush.tapPromise({ name: ctx.name, stage: Stage.FILTER }, async (plan) => filterPlan(plan, filter, ctx.log));
    ctx.provide('transport', {
      preparePush: (run) => preparePush(run, deps()),
      sendPush: (push, prepared, plan) => sendPush(push, deps(), prepared, plan),
      pull: (run) => runPull(run, deps()),
    });
  },
});
