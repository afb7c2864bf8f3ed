import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { buildTestWorker, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;

test.after(async () => {
  await mf?.dispose();
});

test('scheduled runs the onTick chain of the bundled config in real workerd, writing KV and R2', async () => {
  const script = await buildTestWorker('test/worker/fixtures/kv-writer.config.ts');
  mf = await startWorker(script);
  const worker = await mf.getWorker();
  const r1 = await worker.scheduled({ cron: '* * * * *' });
  assert.equal(r1.outcome, 'ok', `first scheduled event: ${JSON.stringify(r1)}`);
  const r2 = await worker.scheduled({ cron: '* * * * *' });
  assert.equal(r2.outcome, 'ok');
  const kv = await mf.getKVNamespace('SNAPPY_KV');
  assert.is(await kv.get('ticks'), '2', 'the tap ran once per scheduled event');
  assert.is(await kv.get('last-tick-env'), 'worker', 'plugins are applied with env "worker"');
  assert.is(await kv.get('codegen-at-tick'), 'EvalError', 'workerd forbids code generation inside scheduled(), so the hooks must have been compiled at top level');
  const r2b = await mf.getR2Bucket('SNAPPY_BUCKET');
  const obj = await r2b.get('ticks/last.json');
  assert.ok(obj, 'the tap wrote to the bucket through the R2 adapter');
  assert.equal(JSON.parse(await obj!.text()).deadlineAfterNow, true);
});

test('the Worker answers fetch after ticks without recompiling hooks', async () => {
  const res = await mf!.dispatchFetch('http://snappy.test/nowhere');
  assert.is(res.status, 404);
  await res.text();
  const again = await (await mf!.getWorker()).scheduled({ cron: '* * * * *' });
  assert.equal(again.outcome, 'ok');
  assert.is(await (await mf!.getKVNamespace('SNAPPY_KV')).get('ticks'), '3');
});

test.run();
