// Bounded requests both ways: the Worker's per-tenant rate limit (Cloudflare's Rate Limiting
// binding, in workerd), the client splitting a large outbox to fit the Worker's limits, and a
// client that never hangs on a silent endpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import type { Miniflare } from 'miniflare';
import { WorkerRemote } from '../../adapters/worker-remote.ts';
import { Remote } from '../../domain/layout.ts';
import { isSnappyError } from '../../core/errors.ts';
import { freePort } from '../helpers/s3rver.ts';
import { ndjson, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, portOf, startWorker } from './helpers.ts';

let limited: Miniflare;
let small: Miniflare;
let smallUrl = '';
let t: Tenant;
let silent: net.Server;
const sockets = new Set<net.Socket>();

test.before(async () => {
  const script = await buildTestWorker();
  limited = await startWorker(script, { OPS_TOKEN, SNAPPY_INGEST_LIMIT_PERIOD: '10' }, { ratelimits: { SNAPPY_INGEST_LIMITER: { simple: { limit: 2, period: 10 } } } });
  small = await startWorker(script, { OPS_TOKEN, SNAPPY_INGEST_MAX_ROWS: '50', SNAPPY_INGEST_MAX_REVS: '2' });
  const port = await portOf(small);
  smallUrl = `http://127.0.0.1:${port}`;
  t = await tenant('bounded');
  await admit(limited, t);
  await admit(small, t);
  // Accepts connections and never answers.
  silent = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
});
test.after(async () => {
  await limited?.dispose();
  await small?.dispose();
  for (const s of sockets) s.destroy();
  silent?.close();
});

test('over the per-tenant ingest limit: 429 with Retry-After of the limiter period, nothing stored', async () => {
  // Side by side, so all four fall in one window of the limiter however slow the machine is
  // (one after the other, on a loaded machine, the third could land in the next window).
  const all = await Promise.all([0, 1, 2, 3].map((i) => ingest(limited, t, ndjson([row(t, 'summarize', 0.5, `rl-${i}`)]))));
  const statuses = all.map((r) => r.status).sort();
  assert.equal(statuses, [201, 201, 429, 429], statuses.join(','));
  const last = all.find((r) => r.status === 429);
  assert.is(last!.headers.get('retry-after'), '10');
  assert.match(last!.body.error!, 'retry after 10 s');
  const stored = (await (await limited.getR2Bucket('SNAPPY_BUCKET')).list({ prefix: Remote.aggregatePrefix })).objects.length;
  assert.is(stored, 2);
});

test('the client splits a large outbox to fit the Worker limits (rows and revs); a rerun ships the same batches, adding nothing', async () => {
  const revs = ['aaaaaaaaaaa1', 'aaaaaaaaaaa2', 'aaaaaaaaaaa3'];
  const rows = Array.from({ length: 120 }, (_, i) => row(t, i % 10 === 0 ? `summarize:${revs[i % 3]}` : 'summarize', 0.5, `split-${i}`));
  const client = new WorkerRemote(smallUrl, { tenant: t.id, masterKey: t.masterKey });
  const first = await client.shipAggregate(ndjson(rows));
  assert.is(first.rows, 120);
  assert.ok(first.batches.length >= 3, `${first.batches.length} batches for 120 rows at 50 a batch`);
  const r2 = await small.getR2Bucket('SNAPPY_BUCKET');
  let stored = '';
  for (const k of first.batches) stored += await (await r2.get(k))!.text();
  assert.is(stored.split('\n').filter(Boolean).length, 120, 'every row stored once');
  for (const k of first.batches) {
    const body = await (await r2.get(k))!.text();
    const inBatch = new Set([...body.matchAll(/"skill":"summarize:([0-9a-f]{12})"/g)].map((m) => m[1]));
    assert.ok(inBatch.size <= 2, 'no batch names more revs than the limit');
  }
  const again = await client.shipAggregate(ndjson(rows));
  assert.equal(again.batches, first.batches, 'the split depends only on the rows');
  const index = (await r2.list({ prefix: Remote.aggregateIndexPrefix })).objects.length;
  assert.is(index, first.batches.length, 'one index entry per batch, however often it is shipped');
});

test('a Worker that accepts the connection and never answers fails in bounded time, naming the route', async () => {
  const port = (silent.address() as net.AddressInfo).port;
  const client = new WorkerRemote(`http://127.0.0.1:${port}`, { tenant: t.id, masterKey: t.masterKey }, { connectMs: 2000, responseMs: 300 });
  for (const call of [() => client.get(Remote.tenantSkill(t.id, 'x')), () => client.changesSince(''), () => client.stageRev('x', 'aaaaaaaaaaaa', [])]) {
    try {
      await call();
      assert.unreachable('it answered');
    } catch (err) {
      assert.ok(isSnappyError(err), String(err));
      assert.match((err as Error).message, /no complete answer within 300 ms/);
      assert.match((err as Error).message, /(reading snappy-tenants\S+|asking what changed|staging x:aaaaaaaaaaaa) \(\w+ http:\/\/127\.0\.0\.1:\d+\/v1\/(object|changes|stage)\)/);
    }
  }
  const closedPort = await freePort();
  const refused = new WorkerRemote(`http://127.0.0.1:${closedPort}`, { tenant: t.id, masterKey: t.masterKey });
  try {
    await refused.get(Remote.tenantSkill(t.id, 'x'));
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, 'connection refused');
  }
});

test.run();
