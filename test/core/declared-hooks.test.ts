// Hooks a plugin declares (`ctx.defineHook`) get what built-in hooks get: attribution,
// timings, timeouts, a failure policy, compilation before the seal. And `Runner.each`, the
// way the lifecycle fires a per-row hook, keeps each hook's policy and order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AsyncSeriesHook, createRunner, definePlugin, ErrorCode, isSnappyError, Stage, type EvalEvent, type PluginInstance, type RunContext } from '../../core/index.ts';
import { lifecycleTasks } from '../../lifecycle/tasks.ts';
import { localRun } from '../helpers/run.ts';

declare module '../../core/hooks.ts' {
  interface SnappyHooks {
    onAlarm: AsyncSeriesHook<[RunContext, { level: number }]>;
    onNote: AsyncSeriesHook<[RunContext, string]>;
  }
}

const run = localRun('/nowhere', { machine: 'm' });
const plugin = (name: string, apply: Parameters<typeof definePlugin>[0]['apply'], extra: Partial<Parameters<typeof definePlugin>[0]> = {}): PluginInstance => ({ plugin: definePlugin({ name, apply, ...extra }) });

/** A plugin declaring onAlarm (`stop`) and onNote (`observe`), firing neither itself. */
const declarer = plugin('alarms', (_h, ctx) => {
  ctx.defineHook('onAlarm', { hook: new AsyncSeriesHook(['run', 'alarm']), failure: 'stop' });
  ctx.defineHook('onNote', { hook: new AsyncSeriesHook(['run', 'note']), failure: 'observe' });
});

test('a declared hook is tapped by other plugins in stage order, and every tap is timed under its plugin', async () => {
  const seen: string[] = [];
  const runner = createRunner({
    plugins: [
      declarer,
      plugin('late', (h) => h.onAlarm.tapPromise({ name: 'x', stage: Stage.REPORT }, async (_r, a) => void seen.push(`late ${a.level}`)), { dependsOn: ['alarms'] }),
      plugin('early', (h) => h.onAlarm.tapPromise({ name: 'x', stage: Stage.GUARD }, async (_r, a) => void seen.push(`early ${a.level}`)), { dependsOn: ['alarms'] }),
    ],
  });
  await runner.hooks.onAlarm.promise(run, { level: 3 });
  assert.equal(seen, ['early 3', 'late 3']);
  assert.equal(runner.timings().filter((t) => t.hook === 'onAlarm').map((t) => [t.plugin, t.calls]).sort(), [['early', 1], ['late', 1]]);
});

test('a failing tap on a `stop` hook fails the call naming its plugin and the hook (not a bare Error)', async () => {
  const runner = createRunner({ plugins: [declarer, plugin('siren', (h) => h.onAlarm.tapPromise('siren', async () => { throw new Error('boom'); }), { dependsOn: ['alarms'] })] });
  const err = await runner.hooks.onAlarm.promise(run, { level: 1 }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSnappyError(err), `a SnappyError, got ${String(err)}`);
  assert.is(err.code, ErrorCode.HookFailed);
  assert.is(err.plugin, 'siren');
  assert.is(err.hook, 'onAlarm');
  assert.match(err.message, '[plugin siren onAlarm] failed: boom');
});

test('a failing tap on an `observe` hook is reported once per plugin, and the other taps still run', async () => {
  const heard: string[] = [];
  const runner = createRunner({
    plugins: [
      declarer,
      plugin('flaky', (h) => h.onNote.tapPromise('flaky', async () => { throw new Error('down'); }), { dependsOn: ['alarms'] }),
      plugin('steady', (h) => h.onNote.tapPromise('steady', async (_r, n) => void heard.push(n)), { dependsOn: ['alarms'] }),
    ],
  });
  await runner.hooks.onNote.promise(run, 'one');
  await runner.hooks.onNote.promise(run, 'two');
  assert.equal(heard, ['one', 'two']);
  assert.equal(runner.observerFailures(), [{ plugin: 'flaky', hook: 'onNote', message: 'down', count: 2 }]);
});

test('config timeouts bound a declared hook like a built-in one', async () => {
  const runner = createRunner({ plugins: [declarer, plugin('sleeper', (h) => h.onAlarm.tapPromise('s', () => new Promise(() => {})), { dependsOn: ['alarms'] })], tapTimeoutMs: { onAlarm: 30 } });
  const err = await runner.hooks.onAlarm.promise(run, { level: 1 }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSnappyError(err));
  assert.is(err.code, ErrorCode.HookTimeout);
  assert.is(err.plugin, 'sleeper');
});

test('declaring is for apply time, once per name, with a tapable hook and a known policy', () => {
  const refused = (apply: Parameters<typeof definePlugin>[0]['apply'], what: RegExp) => {
    const err = (() => {
      try {
        createRunner({ plugins: [plugin('d', apply)] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(isSnappyError(err), `refused: ${what}`);
    assert.is(err.plugin, 'd');
    assert.match(err.message, what);
  };
  refused((_h, ctx) => void (ctx.defineHook as (n: string, d: unknown) => unknown)('afterEval', { hook: new AsyncSeriesHook(['a']), failure: 'stop' }), /hook "afterEval" already exists/);
  refused((_h, ctx) => void ctx.defineHook('onNote', { hook: {} as never, failure: 'stop' }), /must be a tapable hook/);
  refused((_h, ctx) => void ctx.defineHook('onNote', { hook: new AsyncSeriesHook(['run', 'note']), failure: 'sometimes' as never }), /failure must be 'stop' or 'observe'/);
  let late: (() => void) | undefined;
  createRunner({ plugins: [plugin('d', (_h, ctx) => void (late = () => ctx.defineHook('onNote', { hook: new AsyncSeriesHook(['run', 'note']), failure: 'stop' })))] });
  assert.throws(() => late!(), /after the runner was sealed/);
});

test('each: synchronous taps see every item in order, tap by tap; a failing observer is counted per item', async () => {
  const seen: string[] = [];
  const runner = createRunner({
    plugins: [
      plugin('second', (h) => h.afterEval.tap({ name: 'x', stage: Stage.REPORT }, (_r, e) => void seen.push(`second ${e.runId}`))),
      plugin('first', (h) => h.afterEval.tap({ name: 'x', stage: Stage.PREPARE }, (_r, e) => void seen.push(`first ${e.runId}`))),
      plugin('async', (h) => h.afterEval.tapPromise({ name: 'x', stage: Stage.DEFAULT }, async (_r, e) => void seen.push(`async ${e.runId}`))),
      plugin('broken', (h) => h.afterEval.tap('x', (_r, e) => { if (e.runId === 'r2') throw new Error('no r2'); })),
    ],
  });
  const ev = (runId: string): EvalEvent => ({ skill: 's', ts: 0, score: 1, runId, ok: true, generation: 'g', offset: 0, line: 1 });
  await runner.each('afterEval', run, [ev('r1'), ev('r2')]);
  assert.equal(seen, ['first r1', 'first r2', 'async r1', 'async r2', 'second r1', 'second r2']);
  assert.equal(runner.observerFailures(), [{ plugin: 'broken', hook: 'afterEval', message: 'no r2', count: 1 }]);
  assert.is(runner.timings().find((t) => t.plugin === 'first')?.calls, 2, 'one call per item, timed once for the loop');
});

test('each on a `stop` hook throws at the first failure, naming the plugin', async () => {
  const runner = createRunner({ plugins: [declarer, plugin('sharp', (h) => h.onAlarm.tap('x', (_r, a) => { if (a.level > 1) throw new Error('too loud'); }), { dependsOn: ['alarms'] })] });
  const err = await runner.each('onAlarm', run, [{ level: 1 }, { level: 2 }]).then(() => undefined, (e: unknown) => e);
  assert.ok(isSnappyError(err));
  assert.is(err.plugin, 'sharp');
  assert.is(err.hook, 'onAlarm');
});

test('the lifecycle owns push, pull, regen and tick: a plugin defining one of them is refused', () => {
  const tasks = lifecycleTasks({ tickBudgetMs: 1000 });
  try {
    createRunner({ plugins: [plugin('pusher', (_h, ctx) => ctx.defineTask('push', { describe: 'x', run: async () => {} }))], tasks });
    assert.unreachable('accepted');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.PluginDuplicate);
    assert.match(err.message, 'task "push" is already defined by snappy itself');
  }
  const runner = createRunner({ plugins: [], tasks });
  assert.equal([...runner.tasks.values()].map((t) => t.plugin), ['snappy', 'snappy', 'snappy', 'snappy']);
});

test.run();
