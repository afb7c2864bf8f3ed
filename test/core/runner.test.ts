import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { Stage, createRunner, definePlugin, isSnappyError, ErrorCode, veto, type PluginInstance, type PushContext, type PushPlan, type TickContext } from '../../core/index.ts';
import { systemClock } from '../../core/ports.ts';
import { localRun } from '../helpers/run.ts';

declare module '../../core/services.ts' {
  interface ServiceMap {
    answer: number;
    k: number;
  }
}

const plugin = (name: string, apply: Parameters<typeof definePlugin>[0]['apply'], extra: Partial<Parameters<typeof definePlugin>[0]> = {}): PluginInstance => ({
  plugin: definePlugin({ name, apply, ...extra }),
});

const tick: TickContext = { now: 0, deadline: 0, signal: new AbortController().signal, clock: systemClock, runtime: 'node', blobs: null as never, kv: null as never, log: console, results: {} };
const run = localRun('/nowhere', { machine: 'm' });
const push: PushContext = { ...run, dryRun: false, veto };

test('taps run by stage first, then by plugin dependency order, whatever order plugins are listed in', async () => {
  const seen: string[] = [];
  const tapper = (name: string, stage: number) => (hooks: any) => hooks.onTick.tapPromise({ name, stage }, async () => void seen.push(name));
  const runner = createRunner({
    plugins: [
      plugin('c', tapper('c', Stage.DEFAULT), { dependsOn: ['b'] }),
      plugin('b', tapper('b', Stage.DEFAULT), { dependsOn: ['a'] }),
      plugin('late', tapper('late', Stage.REPORT)),
      plugin('a', tapper('a', Stage.DEFAULT)),
      plugin('guard', tapper('guard', Stage.GUARD)),
    ],
  });
  assert.equal(runner.plugins, ['a', 'b', 'c', 'late', 'guard']);
  await runner.hooks.onTick.promise({ ...tick });
  assert.equal(seen, ['guard', 'a', 'b', 'c', 'late']);
});

test('a dependency cycle is an error that prints the cycle', () => {
  try {
    createRunner({ plugins: [plugin('x', () => {}, { dependsOn: ['y'] }), plugin('y', () => {}, { dependsOn: ['z'] }), plugin('z', () => {}, { dependsOn: ['x'] })] });
    assert.unreachable('no error');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.PluginCycle);
    assert.match(err.message, 'x -> y -> z -> x');
  }
});

test('a missing dependency names the plugin and what it needs', () => {
  try {
    createRunner({ plugins: [plugin('needy', () => {}, { dependsOn: ['ghost'] })] });
    assert.unreachable('no error');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.PluginMissingDependency);
    assert.is(err.plugin, 'needy');
    assert.match(err.message, '"ghost"');
  }
});

test('a veto in beforePush aborts with E_VETO naming the vetoing plugin and its reason', async () => {
  const runner = createRunner({
    plugins: [
      plugin('adder', (h) => h.beforePush.tapPromise('adder', async (plan: PushPlan) => ({ entries: [...plan.entries, { path: 'skills/a.md', key: 'k', kind: 'skill' }] }))),
      plugin('guardian', (h) => h.beforePush.tapPromise('guardian', async (plan: PushPlan, ctx) => (plan.entries.length > 0 ? ctx.veto('too many files') : plan))),
    ],
  });
  try {
    await runner.hooks.beforePush.promise({ entries: [] }, push);
    assert.unreachable('no veto');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.Veto);
    assert.is(err.plugin, 'guardian');
    assert.is(err.hook, 'beforePush');
    assert.match(err.message, 'too many files');
  }
});

test('beforePush is a waterfall: each tap sees and transforms the previous plan', async () => {
  const runner = createRunner({
    plugins: [
      plugin('one', (h) => h.beforePush.tapPromise('one', async (p: PushPlan) => ({ entries: [...p.entries, { path: 'a', key: 'a', kind: 'x' }] }))),
      plugin('two', (h) => h.beforePush.tapPromise('two', async (p: PushPlan) => ({ entries: p.entries.filter((e) => e.path !== 'drop') }))),
    ],
  });
  const out = await runner.hooks.beforePush.promise({ entries: [{ path: 'drop', key: 'drop', kind: 'x' }] }, push);
  assert.equal(out.entries.map((e) => e.path), ['a']);
});

test('a failing tap is attributed to its plugin and hook, keeps the original as cause, and has a stable code', async () => {
  const boom = new Error('disk on fire');
  const runner = createRunner({ plugins: [plugin('arsonist', (h) => h.onTick.tapPromise('misleading-name', async () => { throw boom; }))] });
  try {
    await runner.hooks.onTick.promise({ ...tick });
    assert.unreachable('no error');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.HookFailed);
    assert.is(err.plugin, 'arsonist');
    assert.is(err.hook, 'onTick');
    assert.is((err as Error).cause, boom);
    assert.match(err.message, '[plugin arsonist onTick]');
    assert.match(err.message, 'disk on fire');
  }
});

test('a failing afterEval observer is reported by name and the other observers still run', async () => {
  const seen: string[] = [];
  const runner = createRunner({
    plugins: [
      plugin('flaky', (h) => h.afterEval.tapPromise('flaky', async () => { throw new Error('nope'); })),
      plugin('steady', (h) => h.afterEval.tapPromise('steady', async (_run, ev) => void seen.push(ev.runId))),
    ],
  });
  const ev = { skill: 's', ts: 0, score: 1, runId: 'r1', ok: true, generation: 'g', offset: 0, line: 1 };
  await runner.hooks.afterEval.promise(run, ev);
  await runner.hooks.afterEval.promise(run, { ...ev, runId: 'r2' });
  assert.equal(seen, ['r1', 'r2']);
  const failures = runner.observerFailures();
  assert.equal(failures, [{ plugin: 'flaky', hook: 'afterEval', message: 'nope', count: 2 }]);
});

test('plugin options are validated before apply; the error names the plugin and the path', () => {
  let applied = false;
  const def = definePlugin({ name: 'strict', options: z.object({ retries: z.number().int().min(0) }).strict(), apply: () => void (applied = true) });
  try {
    createRunner({ plugins: [{ plugin: def, options: { retries: -1 } }] });
    assert.unreachable('accepted bad options');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.PluginOptions);
    assert.is(err.plugin, 'strict');
    assert.match(err.message, 'strict.retries');
  }
  assert.is(applied, false);
  createRunner({ plugins: [{ plugin: def, options: { retries: 2 } }] });
  assert.is(applied, true);
});

test('validated options (with defaults) reach apply', () => {
  let got: unknown;
  const def = definePlugin({ name: 'defaults', options: z.object({ n: z.number().default(7) }), apply: (_h, ctx) => void (got = ctx.options) });
  createRunner({ plugins: [{ plugin: def }] });
  assert.equal(got, { n: 7 });
});

test('every tap is timed per plugin and hook', async () => {
  // The clock is the test's: each call of the tap moves it on by a known amount.
  const real = Object.getOwnPropertyDescriptor(performance, 'now');
  let clock = 1000;
  const steps = [25, 17.5];
  Object.defineProperty(performance, 'now', { value: () => clock, configurable: true, writable: true });
  try {
    const runner = createRunner({
      plugins: [plugin('slowpoke', (h) => h.onTick.tapPromise('x', async () => void (clock += steps.shift()!)))],
    });
    await runner.hooks.onTick.promise({ ...tick });
    await runner.hooks.onTick.promise({ ...tick });
    const t = runner.timings().find((x) => x.plugin === 'slowpoke' && x.hook === 'onTick');
    assert.ok(t, 'timing recorded');
    assert.equal({ calls: t!.calls, totalMs: t!.totalMs, maxMs: t!.maxMs }, { calls: 2, totalMs: 42.5, maxMs: 25 });
  } finally {
    if (real) Object.defineProperty(performance, 'now', real);
    else delete (performance as { now?: unknown }).now;
  }
});

test('a tap that hangs past its timeout fails naming the plugin', async () => {
  const runner = createRunner({
    plugins: [plugin('sleeper', (h) => h.onTick.tapPromise('x', () => new Promise(() => {})))],
    tapTimeoutMs: { onTick: 50 },
  });
  try {
    await runner.hooks.onTick.promise({ ...tick });
    assert.unreachable('no timeout');
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.code, ErrorCode.HookTimeout);
    assert.is(err.plugin, 'sleeper');
  }
});

test('after apply the hooks are sealed: a late tap is refused', () => {
  let hooksRef: any;
  createRunner({ plugins: [plugin('p', (h) => void (hooksRef = h))] });
  assert.throws(() => hooksRef.onTick.tapPromise('late', async () => {}), /sealed/);
});

test('precompile: false (the Node CLI) compiles a hook at its first call, and still refuses a late tap', async () => {
  let hooksRef: any;
  const seen: string[] = [];
  const apply = (h: any) => {
    hooksRef = h;
    h.onTick.tapPromise('p', async () => void seen.push('tick'));
    h.onStatus.tapPromise('p', async () => {});
  };
  const callers = (r: { hooks: unknown }) => {
    const h = r.hooks as Record<string, { promise: unknown }>;
    return [h.onTick!.promise, h.onStatus!.promise];
  };
  const lazy = createRunner({ precompile: false, plugins: [plugin('p', apply)] });
  // Until a hook is called, its caller is tapable's one shared delegate; compiled, each has its own.
  assert.ok(callers(lazy)[0] === callers(lazy)[1], 'nothing compiled at the build');
  assert.throws(() => hooksRef.onTick.tapPromise('late', async () => {}), /sealed/);
  await lazy.hooks.onTick.promise(tick);
  assert.equal(seen, ['tick']);
  assert.ok(callers(lazy)[0] !== callers(lazy)[1], 'compiled at its first call');
  const eager = createRunner({ plugins: [plugin('p', apply)] });
  assert.ok(callers(eager)[0] !== callers(eager)[1], 'the default build compiles every hook');
});

test('tasks and services are attributed to their plugin; duplicates are refused', async () => {
  const runner = createRunner({
    plugins: [
      plugin('maker', (_h, ctx) => {
        ctx.provide('answer', 42);
        ctx.defineTask('make', { describe: 'd', run: async (t) => t.report({ answer: 42 }) });
      }),
      plugin('user', (_h, ctx) => ctx.defineTask('use', { describe: 'd', run: async () => { throw new Error(`got ${ctx.use('answer')}`); } }), { dependsOn: ['maker'] }),
    ],
  });
  assert.equal([...runner.tasks.keys()], ['make', 'use']);
  assert.is(runner.tasks.get('use')!.plugin, 'user');
  const base = { ...run, ingest: async () => null as never };
  try {
    await runner.runTask('use', base);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSnappyError(err));
    assert.is(err.plugin, 'user');
    assert.is(err.hook, 'task:use');
    assert.match(err.message, 'got 42');
  }
  try {
    await runner.runTask('nope', base);
    assert.unreachable();
  } catch (err) {
    assert.is((err as any).code, ErrorCode.TaskUnknown);
    assert.match((err as Error).message, 'make, use');
  }
  assert.throws(() => createRunner({ plugins: [plugin('a', (_h, c) => c.provide('k', 1)), plugin('b', (_h, c) => c.provide('k', 2))] }), /already provided by plugin "a"/);
});

test('errors are recognised by property, so a second copy of snappy understands them', () => {
  const foreign = Object.assign(new Error('x'), { snappy: true, code: 'E_VETO' });
  assert.ok(isSnappyError(foreign));
  assert.not.ok(isSnappyError(new Error('plain')));
});

test.run();
