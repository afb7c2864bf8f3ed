import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { definePlugin, pluginOfModule, runsIn, runtimesOf } from '../../core/index.ts';
import quorum from '../../plugins/quorum/index.ts';
import aggregate from '../../plugins/aggregate/index.ts';

const apply = () => {};

test('a plugin that does not say where it runs runs in Node only; the built-in quorum runs in both', () => {
  const p = definePlugin({ name: 'plain', apply });
  assert.equal(runtimesOf(p), ['node']);
  assert.ok(runsIn(p, 'node'));
  assert.not.ok(runsIn(p, 'worker'));
  assert.ok(runsIn(quorum, 'worker') && runsIn(quorum, 'node'), 'quorum ticks in the Worker and in `snappy run tick`');
  assert.not.ok(runsIn(aggregate, 'worker'), 'aggregate works on a state dir: Node only');
  assert.equal(runtimesOf(definePlugin({ name: 'w', runtimes: ['worker'], apply })), ['worker']);
});

test('definePlugin refuses runtimes that are not a non-empty list of node and worker, naming the plugin', () => {
  for (const bad of [[], ['deno'], 'worker', ['node', 'browser']]) {
    assert.throws(() => definePlugin({ name: 'odd', runtimes: bad as never, apply }), (e: Error) => e.message.includes('plugin "odd": runtimes must be') && e.message.includes(JSON.stringify(bad)));
  }
});

test('pluginOfModule finds the plugin through default wrappers, { plugin } and factories, else undefined', () => {
  const p = definePlugin({ name: 'x', apply });
  assert.is(pluginOfModule(p), p);
  assert.is(pluginOfModule({ default: p }), p);
  assert.is(pluginOfModule({ default: { default: p } }), p, 'a TS file compiled as CommonJS');
  assert.is(pluginOfModule({ plugin: p, other: 1 }), p);
  assert.is(pluginOfModule({ default: () => p }), p, 'a factory with no arguments');
  assert.is(pluginOfModule({ default: { name: 'no-apply' } }), undefined);
  assert.is(pluginOfModule({ something: p }), undefined);
  assert.is(pluginOfModule(undefined), undefined);
});

test.run();
