import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { KVBinding } from '../../adapters/kv-binding.ts';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { listKeys, ndjson, promotionDone, promotionText, row, stageRev, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, ops, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker, r2Of, kvOf } from './helpers.ts';

let mf: Miniflare;
let blobs: R2BlobStore;
let kv: KVBinding;
let fleet: Tenant[];

test.before(async () => {
  mf = await startWorker(await buildTestWorker('test/worker/fixtures/recorder.config.ts'), { OPS_TOKEN });
  blobs = new R2BlobStore(await r2Of(mf));
  kv = new KVBinding(await kvOf(mf));
  fleet = await Promise.all(['a', 'b', 'c', 'd'].map(tenant));
  for (const t of fleet) await admit(mf, t);
});
test.after(async () => {
  await mf?.dispose();
});

const claims = async (skill: string, rev: string) => (await listKeys(blobs, `test-claims/${skill}/${rev}/`)).length;

test('R2 adapter: create-only and compare-and-swap are enforced by the R2 binding', async () => {
  assert.is(await blobs.put('t/x', 'one', { ifAbsent: true }), true);
  assert.is(await blobs.put('t/x', 'two', { ifAbsent: true }), false);
  assert.is(await text(blobs, 't/x'), 'one');
  const h = await blobs.head('t/x');
  assert.is(await blobs.put('t/x', 'three', { ifMatch: 'not-the-etag' }), false);
  assert.is(await blobs.put('t/x', 'three', { ifMatch: h!.etag! }), true);
  assert.is(await blobs.put('t/x', 'four', { ifMatch: h!.etag! }), false, 'the old etag no longer matches');
  assert.is(await text(blobs, 't/x'), 'three');
});

test('the push that completes a quorum promotes at once (ingest evaluates the revs it touches), without a tick', async () => {
  const [a, b, c] = fleet as [Tenant, Tenant, Tenant];
  const page = '---\nbase_rev: x\n---\nSummarize, briefly.\n';
  const rev = await stageRev(blobs, 'summarize', page, { 'examples.md': 'e' });
  await blobs.put(`${Remote.canonicalDir('summarize')}old.md`, 'stale');
  assert.is((await ingest(mf, a, ndjson([row(a, `summarize:${rev}`, 0.9, '1'), row(a, `summarize:${rev}`, 0.9, '2')]))).status, 201);
  assert.is((await ingest(mf, b, ndjson([row(b, `summarize:${rev}`, 0.95, '1'), row(b, `summarize:${rev}`, 0.9, '2')]))).status, 201);
  const status = await (await mf.dispatchFetch('http://snappy.test/v1/status', { headers: { authorization: `Bearer ${OPS_TOKEN}` } })).json() as { staged: { rev: string; endorsing: number }[] };
  assert.is(status.staged.find((s) => s.rev === rev)?.endorsing, 2, '/v1/status shows the progress');
  assert.is(await kv.get('last_quorum_promotion'), null);
  assert.is((await ingest(mf, c, ndjson([row(c, `summarize:${rev}`, 0.86, '1')]))).status, 201);
  const last = await eventually(async () => {
    const v = await kv.get('last_quorum_promotion');
    return v ? JSON.parse(v) : null;
  }, 'last_quorum_promotion');
  assert.equal({ ...last, ts: undefined }, { ts: undefined, skill: 'summarize', rev_id: rev, tenants: 3, runs: 5 });
  await eventually(async () => ((await promotionDone(blobs, 'summarize', rev)) ? true : null), 'the promotion to finish');
  assert.equal((await listKeys(blobs, Remote.canonicalDir('summarize'))).sort(), [`${Remote.canonicalDir('summarize')}examples.md`, `${Remote.canonicalDir('summarize')}summarize.md`]);
  const row0 = JSON.parse((await promotionText(blobs, 'summarize', rev))!);
  assert.is(row0.by, 'quorum');
  const canon = await (await mf.dispatchFetch('http://snappy.test/v1/canonical/summarize')).json() as { rev_id: string; files: Record<string, string> };
  assert.is(canon.rev_id, rev);
  assert.is(canon.files['summarize.md'], page);
  assert.is(JSON.parse((await kv.get('canonical:summarize'))!).rev_id, rev, 'the canonical route fills the KV cache');
  // A retried push and a cron tick add nothing.
  assert.is((await ingest(mf, c, ndjson([row(c, `summarize:${rev}`, 0.86, '1')]))).status, 200);
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  assert.is(await claims('summarize', rev), 1, 'exactly one tick claimed the promotion');
  const agg = await mf.dispatchFetch('http://snappy.test/v1/aggregate', { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  const rows = (await agg.text()).trim().split('\n');
  assert.ok(rows.length >= 5, 'the aggregate pull returns every tenant\'s rows');
  assert.ok(agg.headers.get('x-snappy-cursor')!.startsWith('snappy-agg-index/'));
});

test('overlapping scheduled events promote once and write one changelog row', async () => {
  const revs: string[] = [];
  for (let i = 0; i < 3; i++) revs.push(await stageRev(blobs, `skill${i}`, `Page ${i}.\n`));
  // Batches and index entries written as ingest writes them, but with no ingest to evaluate
  // them at once: only the ticks find them.
  for (const t of fleet.slice(0, 3)) {
    const body = ndjson(revs.flatMap((rev, i) => [row(t, `skill${i}:${rev}`, 0.9, `o${i}a`), row(t, `skill${i}:${rev}`, 0.9, `o${i}b`)]));
    const batch = `d1${t.id}00`;
    await blobs.put(Remote.aggregateBatch(t.id, batch), body, { ifAbsent: true });
    await blobs.put(Remote.aggregateIndex(Date.now(), t.id, batch), Remote.aggregateBatch(t.id, batch), { ifAbsent: true });
  }
  const worker = await mf.getWorker();
  const results = await Promise.all(Array.from({ length: 6 }, () => worker.scheduled({ cron: '* * * * *' })));
  assert.equal(results.map((r) => r.outcome), Array(6).fill('ok'));
  for (const [i, rev] of revs.entries()) {
    assert.is(await claims(`skill${i}`, rev), 1, `skill${i}: one claim among 6 overlapping ticks`);
    assert.is((await listKeys(blobs, `${Remote.changelogPrefix}skill${i}/`)).length, 1);
    assert.ok(await blobs.head(`${Remote.canonicalDir(`skill${i}`)}skill${i}.md`));
  }
});

test('manual_review gates a rev (read as YAML in workerd, comment dropped); approving it through /snappy-ops/api promotes it as manual:<name>', async () => {
  const page = '---\ndescription: >\n  Deploys the service,\n  carefully.\ntags:\n  - ops\n  - deploy\nmanual_review: robert # the release manager\n---\nDeploy.\n';
  const rev = await stageRev(blobs, 'deploy', page);
  for (const t of fleet) assert.is((await ingest(mf, t, ndjson([row(t, `deploy:${rev}`, 1, 'm1'), row(t, `deploy:${rev}`, 1, 'm2')]))).status, 201);
  await (await mf.getWorker()).scheduled({ cron: '* * * * *' });
  assert.is(await promotionText(blobs, 'deploy', rev), null, 'gated: quorum alone never promotes it');
  const list = await ops(mf, 'GET', '/revs');
  const st = list.body.revs.find((r: { rev: string }) => r.rev === rev);
  assert.is(st.state, 'gated');
  assert.is(st.manualReview, 'robert', 'the name, without the YAML comment');
  assert.is(st.decision.promote, true);
  assert.is((await ops(mf, 'POST', `/revs/deploy/${rev}/approve`, { by: 'robert' }, 'wrong')).status, 403);
  const ok = await ops(mf, 'POST', `/revs/deploy/${rev}/approve`, { by: 'robert' });
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.is(ok.body.promoted, true);
  assert.is(JSON.parse((await promotionText(blobs, 'deploy', rev))!).by, 'manual:robert');
  assert.is(JSON.parse((await kv.get('last_quorum_promotion'))!).rev_id, rev);
  const missing = await ops(mf, 'POST', '/revs/deploy/000000000000/approve', { by: 'robert' });
  assert.is(missing.status, 404);
  const bad = await ops(mf, 'POST', '/revs/..%2Fx/000000000000/approve', { by: 'robert' });
  assert.is(bad.status, 400);
});

test.run();
