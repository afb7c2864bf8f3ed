// Requests grow with change, not with the fleet: counted at the client (`requests` in the pull's
// report) and at the bucket (the Worker built with counted R2 and KV bindings, bench/counting-worker.ts),
// in real workerd, with real CLI pulls. Counts only, never times.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { buildCountingWorker, settle, SignedClient, startCountingWorker, type CountingWorker, type OpCounts } from '../../bench/workerd.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { ndjson, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, OPS_TOKEN } from './client.ts';
import { r2Of } from './helpers.ts';

let w: CountingWorker | undefined;
test.after(async () => {
  await w?.dispose();
});

/**
 * A tenant's history, as the Worker's ingest stores it, from `hoursAgo` hours ago on (outside
 * any cursor's trailing window, and after the hours the cron compacted already: an entry
 * indexed into a compacted hour would be one a segment never holds).
 */
async function history(blobs: R2BlobStore, t: Tenant, batches: number, hoursAgo = 2): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const body = ndjson(Array.from({ length: 5 }, (_, i) => row(t, `skill${(b + i) % 4}`, 0.7, `h${b}-${i}`)));
    const id = await batchIdOf(body);
    const at = Date.now() - (hoursAgo + b) * 3_600_000;
    await blobs.put(Remote.aggregateBatch(t.id, id), body, { ifAbsent: true });
    await blobs.put(Remote.aggregateIndex(at, t.id, id), Remote.aggregateBatch(t.id, id), { ifAbsent: true });
  }
}

/** A fresh machine of its own tenant, pulling through the Worker. */
const machineOf = (url: string, name: string) => machine(url, name);
async function machine(url: string, name: string) {
  const root = tmpDir(`snappy-fleet-${name}-`);
  const state = path.join(root, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  const config = path.join(root, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate'], worker: { url } }));
  const env = { SNAPPY_MASTER_KEY: `requests-by-fleet-${name}-0123456789abcdef0123456789abcdef`, SNAPPY_MACHINE_ID: `m-${name}`, SNAPPY_STATE: state, SNAPPY_CONFIG: config };
  const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: root, env })).stdout);
  const a = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'test'], { cwd: root, env: { ...env, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(a.code, 0, a.stderr);
  return async () => {
    const r = await runCli(['run', 'pull', '--json'], { cwd: root, env });
    assert.is(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout).reports.pull;
    return { requests: rep.requests as number, batches: Number(rep.aggregate?.batches ?? 0), segments: Number(rep.aggregate?.segments ?? 0), added: Number(rep.aggregate?.added ?? 0) };
  };
}

const bucketOps = (c: OpCounts) => ({ classA: c['r2.classA'] ?? 0, classB: c['r2.classB'] ?? 0, kvReads: c['kv.reads'] ?? 0, kvWrites: c['kv.writes'] ?? 0 });

test('a no-op pull makes the same requests, and the same bucket operations, with 2 tenants of history as with 40; a pull after one new batch fetches that batch', async () => {
  w = await startCountingWorker(await buildCountingWorker(), { bindings: { OPS_TOKEN } });
  const blobs = new R2BlobStore(await r2Of(w.mf));
  const fleet: Tenant[] = [];
  const noopAt = async (size: number, hoursAgo: number) => {
    const more = await Promise.all(Array.from({ length: size - fleet.length }, (_, i) => tenant(`fleet-${fleet.length + i}`)));
    for (const t of more) {
      await admit(w!.mf, t);
      await history(blobs, t, 3, hoursAgo);
    }
    fleet.push(...more);
    await (await w!.mf.getWorker()).scheduled({ cron: '* * * * *' });
    const pull = await machine(w!.url, `size${size}`);
    const first = await pull();
    await settle(w!, {});
    const noop = await pull();
    const ops = bucketOps(await settle(w!, {}));
    return { first, noop, ops, pull };
  };
  const small = await noopAt(2, 5);
  const large = await noopAt(40, 2);
  // The cron compacted the closed hours: history comes as segments.
  assert.is(small.first.added, 2 * 3 * 5, 'the first pull of the small fleet took in its whole history');
  assert.is(large.first.added, 40 * 3 * 5, 'the first pull of the large fleet took in its whole history');
  assert.is(small.noop.batches, 0);
  assert.is(large.noop.batches, 0);
  assert.is(large.noop.requests, small.noop.requests, 'a no-op pull makes as many requests with 40 tenants as with 2');
  assert.equal(large.ops, small.ops, 'and the Worker makes as many bucket and KV operations for it');
  assert.ok(small.ops.classA + small.ops.classB > 0, 'the counting wrapper saw the bucket');

  // One new batch: the next pull fetches exactly it.
  const t = fleet[7]!;
  const res = await new SignedClient(w.url, t).ingest(ndjson([row(t, 'skill1', 0.9, 'new-1'), row(t, 'skill2', 0.8, 'new-2')]));
  assert.is(res.status, 201, await res.text());
  const after = await large.pull();
  assert.is(after.batches, 1, 'the pull after one new batch fetched one batch');
  assert.is(after.added, 2, 'and merged its two rows');
});

test('a tick after one new batch reads that batch only, whatever the fleet', async () => {
  const blobs = new R2BlobStore(await r2Of(w!.mf));
  const t = await tenant('fleet-tick');
  await admit(w!.mf, t);
  const worker = await w!.mf.getWorker();
  await worker.scheduled({ cron: '* * * * *' });
  await settle(w!, {});
  const res = await new SignedClient(w!.url, t).ingest(ndjson([row(t, 'skill3', 0.6, 'tick-1')]));
  assert.is(res.status, 201);
  await settle(w!, {});
  await worker.scheduled({ cron: '* * * * *' });
  const ops = await settle(w!, {});
  const rec = JSON.parse(new TextDecoder().decode((await blobs.get(Remote.lastTick))!));
  assert.is(rec.batches, 1, 'the tick took in the one new batch of 121');
  assert.is(ops['r2.get'] !== undefined && ops['r2.get'] < 121, true, `the tick read fewer objects than the fleet has batches (${ops['r2.get']} gets)`);
});

test('a fresh pull reads far fewer objects, with fewer bucket operations, once the cron compacted the history', async () => {
  const w2 = await startCountingWorker(await buildCountingWorker(), { bindings: { OPS_TOKEN } });
  try {
    const blobs = new R2BlobStore(await r2Of(w2.mf));
    for (let i = 0; i < 20; i++) await history(blobs, await tenant(`fresh-${i}`), 6);
    const pullBefore = await machineOf(w2.url, 'fresh-before');
    await settle(w2, {});
    const before = await pullBefore();
    const opsBefore = bucketOps(await settle(w2, {}));
    await (await w2.mf.getWorker()).scheduled({ cron: '* * * * *' });
    await settle(w2, {});
    const pullAfter = await machineOf(w2.url, 'fresh-after');
    await settle(w2, {});
    const after = await pullAfter();
    const opsAfter = bucketOps(await settle(w2, {}));
    assert.is(before.added, 20 * 6 * 5, 'before compaction a fresh pull takes in every row');
    assert.is(after.added, before.added, 'and after it, the same rows');
    assert.is(before.batches, 20 * 6, 'before: one object per batch');
    assert.is(after.batches + after.segments, 6, `after: one segment per hour of history (${after.segments} segments, ${after.batches} batches)`);
    assert.ok(opsAfter.classB < opsBefore.classB / 2, `class B operations of a fresh pull drop: ${opsBefore.classB} -> ${opsAfter.classB}`);
    console.log(`[requests-by-fleet] fresh pull of 120 batches over 6 hours: R2 A/B ${opsBefore.classA}/${opsBefore.classB} -> ${opsAfter.classA}/${opsAfter.classB}; objects ${before.batches} -> ${after.batches + after.segments}`);
  } finally {
    await w2.dispose();
  }
});

test.run();
