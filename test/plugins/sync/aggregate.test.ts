import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { Remote } from '../../../domain/layout.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { admit, OPS_TOKEN } from '../../worker/client.ts';
import { buildTestWorker, portOf, startWorker } from '../../worker/helpers.ts';
import { machine, readTree, tenantOf } from './fixtures.ts';

// Sync ships and merges aggregate batches through the real aggregate plugin, to a file
// remote or to the real Worker in workerd.

function setup(id: string, key: string | undefined, remote: string | undefined, extra: Record<string, unknown> = {}) {
  const dir = tmpDir('snappy-agg-');
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['aggregate', 'sync'], ...extra }));
  const m = machine({ id, key, remote, config, dir });
  mkdirSync(path.join(m.state, 'log'), { recursive: true });
  const log = (runs: string[]) => writeFileSync(path.join(m.state, 'log/evals.ndjson'), runs.map((r, i) => `${JSON.stringify({ ts: 1_700_000_000_000 + i, skill: 'foo', score: 0.9, run_id: r, ok: true })}\n`).join(''), { flag: 'a' });
  const aggregate = () => readFileSync(path.join(m.state, 'log/evals.aggregate.ndjson'), 'utf8');
  return { ...m, log, aggregate };
}

const batchesOf = (tree: Record<string, string>) => Object.keys(tree).filter((k) => k.startsWith(Remote.aggregatePrefix));

test('push ships the outbox as one create-only batch, then commits it; another machine\'s pull merges it once; the shipper never merges its own back', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const a = setup('a1', 'agg-a', `file://${remoteDir}`);
  const b = setup('b1', 'agg-b', `file://${remoteDir}`);
  const ta = await tenantOf('agg-a');
  a.log(['run-1', 'run-2']);
  const { res, out } = await a.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  const key = out.reports.push.aggregate.batch as string;
  assert.match(key, new RegExp(`^snappy-agg/${ta}/[0-9a-f]{16}\\.ndjson$`));
  assert.is(out.reports.push.aggregate.rows, 2);
  assert.equal(batchesOf(readTree(remoteDir)), [key]);
  assert.is(readTree(remoteDir)[key], a.aggregate(), 'the batch is exactly this machine\'s aggregate rows');
  const again = await a.json(['run', 'push']);
  assert.is(again.out.reports.push.aggregate.skipped, 'nothing new', 'the outbox was not committed after shipping');

  const p1 = await b.json(['run', 'pull']);
  assert.is(p1.res.code, 0, p1.res.stderr);
  assert.equal([p1.out.reports.pull.aggregate.batches, p1.out.reports.pull.aggregate.added], [1, 2]);
  assert.is(b.aggregate(), a.aggregate());
  const p2 = await b.json(['run', 'pull']);
  assert.is(p2.out.reports.pull.aggregate.batches, 0, 'a batch was merged twice');
  const own = await a.json(['run', 'pull']);
  assert.is(own.out.reports.pull.aggregate.batches, 0, 'the shipper merged its own batch back');

  // New rows make a second batch with only them.
  a.log(['run-3']);
  const second = await a.json(['run', 'push']);
  assert.is(second.out.reports.push.aggregate.rows, 1);
  assert.is(batchesOf(readTree(remoteDir)).length, 2);
  const p3 = await b.json(['run', 'pull']);
  assert.equal([p3.out.reports.pull.aggregate.batches, p3.out.reports.pull.aggregate.added], [1, 1]);
  assert.is(b.aggregate(), a.aggregate());
});

test('without a master key nothing is shipped and sync adds no warning of its own', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const m = setup('n1', undefined, `file://${remoteDir}`);
  m.log(['run-1']);
  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.aggregate.skipped, 'no SNAPPY_MASTER_KEY');
  assert.not.match(res.stderr, /\[sync\].*MASTER_KEY/);
  assert.equal(batchesOf(readTree(remoteDir)), []);
});

test('with worker.url the batch goes to the Worker in workerd; a refusal (tenant not admitted) fails the push with the Worker\'s message and keeps the outbox; once admitted the same rows arrive once', async () => {
  let mf: Miniflare | undefined;
  try {
    mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
    const port = await portOf(mf);
    // Worker mode: the Worker's URL and the key, no remote.
    const m = setup('w1', 'agg-w', undefined, { worker: { url: `http://127.0.0.1:${port}` } });
    const me = { masterKey: 'agg-w', id: await tenantOf('agg-w') };
    m.log(['run-1', 'run-2']);
    const refused = await m.run(['run', 'push']);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`HTTP 403: tenant ${me.id} is not admitted`));
    const bucket = await mf.getR2Bucket('SNAPPY_BUCKET');
    assert.is((await bucket.list({ prefix: Remote.aggregatePrefix })).objects.length, 0);

    await admit(mf, me);
    const { res, out } = await m.json(['run', 'push']);
    assert.is(res.code, 0, res.stderr);
    assert.is(out.reports.push.aggregate.via, 'worker');
    assert.is(out.reports.push.aggregate.rows, 2, 'the refused rows were not kept for the next push');
    const stored = (await bucket.list({ prefix: Remote.aggregatePrefix })).objects.map((o) => o.key);
    assert.equal(stored, out.reports.push.aggregate.batches);
    assert.is(await (await bucket.get(stored[0]!))!.text(), m.aggregate(), 'the Worker stored exactly the rows shipped');
    const again = await m.json(['run', 'push']);
    assert.is(again.out.reports.push.aggregate.skipped, 'nothing new');
  } finally {
    await mf?.dispose();
  }
});

test.run();
