import type { PushContext } from '../core/context.ts';
import type { TaskContext } from '../core/plugin.ts';
import { veto } from '../core/runner.ts';

/**
 * `snappy run push`: ingest, ask the transport what changed (the plan), let every
 * `beforePush` tap shape or veto the plan, then have the transport send what is left.
 * The hook fires here, whichever plugin moves the files.
 */
export async function push(t: TaskContext): Promise<void> {
  const transport = t.runner.service('transport')!;
  if (!t.flags.dryRun) await t.ingest();
  const prepared = await transport.preparePush(t);
  const ctx: PushContext = { ...t, dryRun: t.flags.dryRun, veto };
  const plan = await t.runner.hooks.beforePush.promise(prepared.plan, ctx);
  await transport.sendPush(ctx, prepared, plan);
}

/** `snappy run pull`: the transport fetches what changed and merges new aggregate batches. */
export async function pull(t: TaskContext): Promise<void> {
  await t.runner.service('transport')!.pull(t);
}
