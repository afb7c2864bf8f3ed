import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { ndjson, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, ops, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker } from './helpers.ts';

let mf: Miniflare;
let a: Tenant;
let b: Tenant;
let stranger: Tenant;

test.before(async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_INGEST_MAX_BYTES: '20000' });
  [a, b, stranger] = await Promise.all([tenant('a'), tenant('b'), tenant('stranger')]);
  await admit(mf, a);
  await admit(mf, b);
});
test.after(async () => {
  await mf?.dispose();
});

const batchCount = async () => (await (await mf.getR2Bucket('SNAPPY_BUCKET')).list({ prefix: Remote.aggregatePrefix })).objects.length;

test('a signed batch of an admitted tenant is stored create-only; the same batch again adds nothing', async () => {
  const body = ndjson([row(a, 'summarize', 0.9, 'r1'), row(a, 'summarize', 0.8, 'r2')]);
  const first = await ingest(mf, a, body);
  assert.is(first.status, 201, JSON.stringify(first.body));
  assert.is(first.body.rows, 2);
  assert.is(first.body.stored, true);
  const again = await ingest(mf, a, body);
  assert.is(again.status, 200);
  assert.is(again.body.duplicate, true);
  assert.is(again.body.batch, first.body.batch);
  assert.is(await batchCount(), 1);
  const stored = await (await mf.getR2Bucket('SNAPPY_BUCKET')).get(first.body.key as string);
  assert.is(await stored!.text(), body);
});

test('auth: no headers 401, unknown tenant 403, wrong key 403, body/path/method tampering 403 and nothing stored, stale or future timestamp 401, v1 retired 401', async () => {
  const body = ndjson([row(a, 'summarize', 0.5, 'auth-1')]);
  const none = await ingest(mf, a, body, { omit: 'x-snappy-signature' });
  assert.is(none.status, 401);
  assert.match(none.body.error!, 'missing header(s) x-snappy-signature');
  const unknown = await ingest(mf, stranger, ndjson([row(stranger, 'summarize', 0.5, 'x')]));
  assert.is(unknown.status, 403);
  assert.match(unknown.body.error!, `tenant ${stranger.id} is not admitted`);
  const wrongKey = await ingest(mf, a, body, { key: 'some-other-master-key' });
  assert.is(wrongKey.status, 403);
  assert.match(wrongKey.body.error!, 'x-snappy-signature does not match');
  const before = await batchCount();
  // A real signature of one body, sent with another: the body hash is part of what is signed.
  const swapped = await ingest(mf, a, ndjson([row(a, 'summarize', 0.1, 'swapped')]), { signBody: body });
  assert.is(swapped.status, 403, JSON.stringify(swapped.body));
  assert.match(swapped.body.error!, 'does not match');
  // A real signature of this body for another route or method cannot be re-aimed at ingest.
  const otherPath = await ingest(mf, a, body, { signPath: '/v1/stage' });
  assert.is(otherPath.status, 403);
  const otherMethod = await ingest(mf, a, body, { signMethod: 'PUT' });
  assert.is(otherMethod.status, 403);
  const otherQuery = await ingest(mf, a, body, { signQuery: 'x=1' });
  assert.is(otherQuery.status, 403);
  assert.is(await batchCount(), before, 'nothing of a tampered request is stored');
  const good = await ingest(mf, a, body);
  assert.is(good.status, 201);
  const stale = await ingest(mf, a, ndjson([row(a, 'summarize', 0.5, 'auth-2')]), { ts: Date.now() - 10 * 60_000 });
  assert.is(stale.status, 401);
  assert.match(stale.body.error!, 'outside the ±300 s window');
  const future = await ingest(mf, a, ndjson([row(a, 'summarize', 0.5, 'auth-3')]), { ts: Date.now() + 10 * 60_000 });
  assert.is(future.status, 401);
  const badTenant = await ingest(mf, a, body, { tenant: '../../etc' });
  assert.is(badTenant.status, 401);
  assert.match(badTenant.body.error!, 'is not a tenant id');
  const v1 = await ingest(mf, a, ndjson([row(a, 'summarize', 0.5, 'auth-4')]), { v1: true });
  assert.is(v1.status, 401);
  assert.match(v1.body.error!, 'signatures v1 are retired');
});

test('a batch signed by its tenant but changed on the way (one score, one extra row) is refused 403 and nothing is stored', async () => {
  const signed = ndjson([row(a, 'summarize', 0.2, 'tamper-1'), row(a, 'summarize', 0.3, 'tamper-2')]);
  const before = await batchCount();
  const changes = [
    ndjson([row(a, 'summarize', 0.9, 'tamper-1'), row(a, 'summarize', 0.3, 'tamper-2')]),
    signed + ndjson([row(a, 'summarize', 1, 'tamper-3')]),
  ];
  for (const sent of changes) {
    const r = await ingest(mf, a, sent, { signBody: signed });
    assert.is(r.status, 403, `accepted a body other than the one signed: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error!, 'x-snappy-signature does not match');
  }
  assert.is(await batchCount(), before, 'a tampered batch reached the bucket');
  // The signature itself was good: the body it was made for goes through.
  assert.is((await ingest(mf, a, signed)).status, 201);
  assert.is(await batchCount(), before + 1);
});

test('a row naming another tenant is refused (403, naming the line) and nothing of the batch is stored', async () => {
  const before = await batchCount();
  const body = ndjson([row(a, 'summarize', 0.9, 'f1'), row(a, 'summarize', 0.9, 'f2'), row(b, 'summarize', 1, 'forged')]);
  const r = await ingest(mf, a, body);
  assert.is(r.status, 403);
  assert.match(r.body.error!, `line 3: the row names tenant ${b.id} but the batch is signed by tenant ${a.id}`);
  assert.is(await batchCount(), before, 'all or nothing');
});

test('bad rows: unknown key, wrong type, not JSON -> 400 naming line and key; nothing stored', async () => {
  const before = await batchCount();
  const good = JSON.stringify(row(a, 'summarize', 0.9, 'b1'));
  const withExtra = JSON.stringify({ ...row(a, 'summarize', 0.9, 'b2'), machine: 'laptop-7' });
  let r = await ingest(mf, a, `${good}\n${withExtra}\n`);
  assert.is(r.status, 400);
  assert.match(r.body.error!, 'line 2: unknown key "machine"');
  r = await ingest(mf, a, `${good}\n${JSON.stringify({ ...row(a, 'summarize', 0.9, 'b3'), score: 1.5 })}\n`);
  assert.is(r.status, 400);
  assert.match(r.body.error!, 'line 2: "score"');
  r = await ingest(mf, a, `${good}\n{not json\n`);
  assert.is(r.status, 400);
  assert.match(r.body.error!, 'line 2: not valid JSON');
  r = await ingest(mf, a, '\n\n');
  assert.is(r.status, 400);
  assert.match(r.body.error!, 'no rows');
  assert.is(await batchCount(), before);
});

test('an oversized body is refused with 413 before anything is stored', async () => {
  const before = await batchCount();
  const rows = Array.from({ length: 200 }, (_, i) => row(a, 'summarize', 0.5, `big-${i}`));
  const r = await ingest(mf, a, ndjson(rows));
  assert.is(r.status, 413);
  assert.match(r.body.error!, 'larger than the limit of 20000 bytes');
  assert.is(r.headers.get('x-snappy-limit-bytes'), '20000', 'the refusal states the limit, so a client can split');
  assert.is(await batchCount(), before);
});

test('/snappy-ops/api needs the ops token: none 401, wrong 403, right 200; the page is served with a CSP', async () => {
  assert.is((await ops(mf, 'GET', '/tenants', undefined, null)).status, 401);
  assert.is((await ops(mf, 'GET', '/tenants', undefined, 'wrong')).status, 403);
  const ok = await ops(mf, 'GET', '/tenants');
  assert.is(ok.status, 200);
  assert.equal(ok.body.tenants.map((t: { tenant: string }) => t.tenant).sort(), [a.id, b.id].sort());
  assert.ok(ok.body.tenants.every((t: { publicKey?: string; v1Key?: string }) => typeof t.publicKey === 'string' && !('v1Key' in t)), 'only public keys');
  const bad = await ops(mf, 'POST', '/tenants', { tenant: 'ABC', key: 'x', by: 'robert' });
  assert.is(bad.status, 400);
  assert.match(bad.body.error, 'tenant "ABC": expected 12 lower-case hex characters');
  const page = await mf.dispatchFetch('http://snappy.test/snappy-ops');
  assert.is(page.status, 401);
  assert.match(page.headers.get('content-security-policy')!, "script-src 'self'");
  assert.match(await page.text(), '<script src="/snappy-ops/app.js">');
  const authed = await mf.dispatchFetch('http://snappy.test/snappy-ops', { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  assert.is(authed.status, 200);
  await authed.text();
});

test('a replay window that is not a number of ms (SNAPPY_INGEST_WINDOW_MS=5m) means the default window, not none', async () => {
  const odd = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_INGEST_WINDOW_MS: '5m' });
  try {
    await admit(odd, a);
    const stale = await ingest(odd, a, ndjson([row(a, 'summarize', 0.5, 'odd-window-1')]), { ts: Date.now() - 10 * 60_000 });
    assert.is(stale.status, 401, JSON.stringify(stale.body));
    assert.match(stale.body.error!, 'outside the ±300 s window');
    const version = (await (await odd.dispatchFetch('http://localhost/v1/version')).json()) as { windowMs: number };
    assert.is(version.windowMs, 300_000);
    const fresh = await ingest(odd, a, ndjson([row(a, 'summarize', 0.5, 'odd-window-2')]));
    assert.is(fresh.status, 201, JSON.stringify(fresh.body));
  } finally {
    await odd.dispose();
  }
});

test('a batch whose first attempt stopped before indexing, retried two hours later, is indexed at the retry: a pull past the old key gets it', async () => {
  const body = ndjson([row(a, 'summarize', 0.5, 'late-1'), row(a, 'summarize', 0.6, 'late-2')]);
  const batch = await batchIdOf(body);
  const r2 = await mf.getR2Bucket('SNAPPY_BUCKET');
  // What the first attempt left: the meta record naming the index key it chose, then nothing.
  const stale = Remote.aggregateIndex(Date.now() - 2 * 3_600_000, a.id, batch);
  await r2.put(Remote.aggregateMeta(a.id, batch), JSON.stringify({ index: stale }));
  const drain = async (after: string) => {
    let rows = '';
    for (;;) {
      const res = await mf.dispatchFetch(`http://localhost/v1/aggregate${after ? `?after=${encodeURIComponent(after)}` : ''}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
      rows += await res.text();
      after = res.headers.get('x-snappy-cursor')!;
      if (res.headers.get('x-snappy-more') !== '1') return { rows, cursor: after };
    }
  };
  const { cursor } = await drain('');
  const retry = await ingest(mf, a, body);
  assert.is(retry.status, 201, JSON.stringify(retry.body));
  assert.is(await r2.head(stale), null, 'nothing indexed under the old key');
  const { rows } = await drain(cursor);
  assert.match(rows, JSON.parse(body.split('\n')[0]!).run_id, 'a machine whose cursor passed the old key gets the batch');
  const meta = JSON.parse(await (await r2.get(Remote.aggregateMeta(a.id, batch)))!.text());
  assert.ok(meta.index > stale && (await r2.head(meta.index)), 'the meta record names the key the batch is indexed under');
  const again = await ingest(mf, a, body);
  assert.is(again.body.duplicate, true);
  assert.is((await r2.list({ prefix: Remote.aggregateIndexPrefix })).objects.filter((o) => o.key.endsWith(batch)).length, 1, 'a later retry indexes nothing more');
});

test.run();
