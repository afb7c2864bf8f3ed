import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { listKeys, ndjson, promotionDone, row, stageRev, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, COMPAT_DATE, r2Of } from '../worker/helpers.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';

// The Worker stopped while batches are being POSTed, started again on the same persisted KV
// and R2, and the tenants re-push whatever was not acknowledged: nothing lost, nothing doubled,
// one promotion.
const seed = fuzzSeed('faults/worker-restart', 0x5eed_0101);
const rnd = prng(seed);
const ROUNDS = 6;
const persist = tmpDir('snappy-mf-persist-');
let script = '';

function start(): Promise<Miniflare> {
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: path.dirname(script),
    compatibilityDate: COMPAT_DATE,
    kvNamespaces: ['SNAPPY_KV'],
    r2Buckets: ['SNAPPY_BUCKET'],
    kvPersist: path.join(persist, 'kv'),
    r2Persist: path.join(persist, 'r2'),
    bindings: { OPS_TOKEN },
    host: '127.0.0.1',
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      stdout.resume();
      stderr.resume();
    },
  });
  return mf.ready.then(() => mf);
}

const blobsOf = async (mf: Miniflare) => new R2BlobStore(await r2Of(mf));

test('the Worker stopped mid-ingest and restarted on the same KV/R2, then a re-push: the stored rows are exactly the good rows, once; one promotion', async () => {
  script = await buildTestWorker();
  const fleet = await Promise.all(['wa', 'wb', 'wc'].map(tenant));
  let mf = await start();
  for (const t of fleet) await admit(mf, t);
  const rev = await stageRev(await blobsOf(mf), 'summarize', '---\nbase_rev: x\n---\nSummarize, in two lines.\n', { 'examples.md': 'e' });
  // 10 batches of 4 good rows per tenant (rev rows endorse it), plus one bad batch each.
  const batches: { t: Tenant; body: string; good: boolean }[] = [];
  const expected = new Set<string>();
  for (const t of fleet) {
    for (let i = 0; i < 10; i++) {
      const rows = Array.from({ length: 4 }, (_, j) => row(t, i < 2 ? `summarize:${rev}` : 'triage', 0.9, `run-${i}-${j}`));
      for (const r of rows) expected.add(`${r.tenant}/${r.run_id}`);
      batches.push({ t, body: ndjson(rows), good: true });
    }
    batches.push({ t, body: `${JSON.stringify({ ...row(t, 'triage', 0.5, 'bad'), machine: 'm1' })}\n`, good: false });
  }
  const acked = new Set<number>();
  let stops = 0;
  let lost = 0;
  let rounds = 0;
  const pendingAtStop: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    if (round > 0) mf = await start();
    const last = round === ROUNDS;
    // The last round re-pushes everything, acknowledged or not: acknowledged batches must come back as duplicates.
    const todo = batches.map((_, i) => i).filter((i) => last || !acked.has(i));
    // All of the round's batches are sent at once; the Worker stops as the seeded n-th
    // answer arrives, with the others still unanswered.
    const stopsThisRound = !last && todo.length > 1;
    const stopAfter = stopsThisRound ? 1 + Math.floor(rnd() * (todo.length - 1)) : Infinity;
    if (stopsThisRound) rounds++;
    let answered = 0;
    let stopping: Promise<void> | undefined;
    const results = await Promise.allSettled(
      todo.map(async (i) => {
        const b = batches[i]!;
        const res = await ingest(mf, b.t, b.body);
        if (++answered >= stopAfter && !stopping) {
          pendingAtStop.push(todo.length - answered);
          stopping = mf.dispose();
        }
        return { i, res };
      }),
    );
    if (stopping) {
      await stopping;
      stops++;
    }
    lost += results.filter((r) => r.status === 'rejected').length;
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      const { i, res } = r.value;
      const b = batches[i]!;
      if (b.good) {
        assert.ok(res.status === 201 || res.status === 200, `round ${round}: good batch ${i} got ${res.status} ${JSON.stringify(res.body)}`);
        if (last && acked.has(i)) assert.is(res.status, 200, 'an acknowledged batch is a duplicate on re-push');
        acked.add(i);
      } else {
        assert.is(res.status, 400, `round ${round}: bad batch got ${res.status}`);
        assert.match(res.body.error!, 'line 1: unknown key "machine"');
      }
    }
    if (last) for (const [i, b] of batches.entries()) if (b.good) assert.ok(acked.has(i), `batch ${i} acknowledged in the end`);
  }
  // Each round with batches left stopped the Worker once, at its chosen answer, with requests unanswered.
  assert.is(stops, rounds);
  assert.equal(pendingAtStop.filter((n) => n === 0), [], 'the Worker stopped with no request in flight');
  // The cron tick is the backstop for promotions whose background run died with the Worker.
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const blobs = await blobsOf(mf);
  const stored = await listKeys(blobs, Remote.aggregatePrefix);
  const seen = new Map<string, number>();
  for (const k of stored) {
    for (const l of (await text(blobs, k))!.split('\n').filter(Boolean)) {
      const r = JSON.parse(l) as { tenant: string; run_id: string };
      assert.ok(k.startsWith(`${Remote.aggregatePrefix}${r.tenant}/`), `row of ${r.tenant} stored under ${k}`);
      seen.set(`${r.tenant}/${r.run_id}`, (seen.get(`${r.tenant}/${r.run_id}`) ?? 0) + 1);
    }
  }
  assert.equal([...seen.keys()].sort(), [...expected].sort(), 'the stored rows are exactly the well-formed rows');
  assert.equal([...seen.values()].filter((n) => n > 1), [], 'no row stored twice');
  assert.is(stored.length, batches.filter((b) => b.good).length, 'one object per good batch');
  const indexed = new Set<string>();
  for (const k of await listKeys(blobs, Remote.aggregateIndexPrefix)) indexed.add((await text(blobs, k))!);
  for (const k of stored) assert.ok(indexed.has(k), `${k} is indexed (a batch stored just before a stop is indexed on its re-push)`);
  assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}summarize/`), [Remote.changelogEntry('summarize', 1)], 'one changelog row');
  assert.ok(await promotionDone(blobs, 'summarize', rev), 'the promotion finished');
  assert.equal((await listKeys(blobs, Remote.canonicalDir('summarize'))).sort(), [`${Remote.canonicalDir('summarize')}examples.md`, `${Remote.canonicalDir('summarize')}summarize.md`]);
  const lqp = JSON.parse((await (await mf.getKVNamespace('SNAPPY_KV')).get('last_quorum_promotion'))!);
  assert.is(lqp.rev_id, rev);
  console.log(`[faults/worker-restart] ${stops} stops with ${pendingAtStop.join('/')} requests unanswered, ${lost} of them cut off, ${acked.size} good batches, ${seen.size} rows`);
  await mf.dispose();
});

test.run();
