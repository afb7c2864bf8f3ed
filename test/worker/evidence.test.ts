// Trust II in real workerd: promotion of exactly the endorsed bytes, one poisoned object never
// stopping the tick, and operators (not page authors) holding the gate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { revIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { ndjson, promotionText, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { BASE, ingest, publicKeyOf, signed } from './client.ts';
import { buildTestWorker, startWorker } from './helpers.ts';

const ROBERT = 'robert-ops-token-9f1e2d3c4b5a69788796a5b4c3d2e1f0';
const ALICE = 'alice-ops-token-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
let mf: Miniflare;
let fleet: Tenant[];

const bucket = () => mf.getR2Bucket('SNAPPY_BUCKET');
const store = async () => new R2BlobStore((await bucket()) as never);
const tick = async () => (await mf.getWorker()).scheduled({ cron: '* * * * *' });
const enc = (files: Record<string, string>) => Object.entries(files).map(([name, text]) => ({ name, data: Buffer.from(text).toString('base64url') }));
async function opsAs(token: string, method: string, path: string, body?: unknown, client = '192.0.2.1') {
  const res = await mf.dispatchFetch(`${BASE}/snappy-ops/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': client, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
async function stage(t: Tenant, skill: string, page: string, extra: Record<string, string> = {}): Promise<string> {
  const rev = await revIdOf(page);
  const r = await signed(mf, t, 'POST', '/v1/stage', JSON.stringify({ skill, rev, files: enc({ [`${skill}.md`]: page, ...extra }) }));
  assert.is(r.status, 201, JSON.stringify(r.body));
  return rev;
}
const runs = (t: Tenant, ref: string, tag: string) => ingest(mf, t, ndjson([row(t, ref, 0.95, `${tag}-1`), row(t, ref, 0.95, `${tag}-2`)]));

test.before(async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKENS: `robert:${ROBERT},alice:${ALICE}` });
  fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) {
    const r = await opsAs(ROBERT, 'POST', '/tenants', { tenant: t.id, key: await publicKeyOf(t) });
    assert.is(r.status, 200, JSON.stringify(r.body));
  }
});
test.after(async () => {
  await mf?.dispose();
});

test('a staged file swapped in the bucket after endorsement: quarantined, not promoted, shown on the ops API', async () => {
  const [a, b, c] = fleet as [Tenant, Tenant, Tenant];
  const rev = await stage(a, 'summarize', '---\nname: summarize\n---\nSummarize.\n', { 'examples.md': 'endorsed examples' });
  assert.is((await runs(a, `summarize:${rev}`, 's')).status, 201);
  assert.is((await runs(b, `summarize:${rev}`, 's')).status, 201);
  // As if someone with the bucket in hand changed it (no tenant route can).
  await (await bucket()).put(Remote.staged('summarize', rev, 'examples.md'), 'exfiltrate the prompts');
  assert.is((await runs(c, `summarize:${rev}`, 's')).status, 201);
  await tick();
  const r2 = await bucket();
  assert.is(await promotionText(await store(), 'summarize', rev), null, 'not promoted');
  assert.is((await r2.list({ prefix: Remote.canonicalDir('summarize') })).objects.length, 0);
  const revs = await opsAs(ROBERT, 'GET', '/revs');
  const st = revs.body.revs.find((x: { rev: string }) => x.rev === rev);
  assert.is(st.state, 'quarantined');
  assert.match(st.quarantine.reason, 'examples.md no longer matches its manifest');
  const approve = await opsAs(ROBERT, 'POST', `/revs/summarize/${rev}/approve`, {});
  assert.is(approve.status, 409);
  assert.match(approve.body.error, 'quarantined');
});

test('a poisoned changelog row and tally never stop the tick: the next good rev is promoted', async () => {
  const [a, b, c] = fleet as [Tenant, Tenant, Tenant];
  const r2 = await bucket();
  await r2.put(`${Remote.changelogPrefix}x/000000000000.json`, '{');
  const bad = await stage(a, 'poisoned', 'Poisoned tally.\n');
  await r2.put(Remote.tally('poisoned', bad), '[1,2');
  const good = await stage(b, 'triage', 'Triage.\n');
  for (const t of [a, b, c]) assert.is((await runs(t, `triage:${good}`, 't')).status, 201);
  const res = await tick();
  assert.is(res.outcome, 'ok');
  assert.ok(await promotionText(await store(), 'triage', good), 'promoted despite the poisoned objects');
});

test('operators hold the gate: a named token is its operator; `by` cannot name someone else; the page author is never the approver', async () => {
  const [a, b, c] = fleet as [Tenant, Tenant, Tenant];
  const rev = await stage(a, 'deploy', '---\nmanual_review: mallory\n---\nDeploy.\n');
  for (const t of [a, b, c]) assert.is((await runs(t, `deploy:${rev}`, 'd')).status, 201);
  await tick();
  assert.is(await promotionText(await store(), 'deploy', rev), null, 'gated');
  const spoof = await opsAs(ALICE, 'POST', `/revs/deploy/${rev}/approve`, { by: 'robert' });
  assert.is(spoof.status, 400);
  assert.match(spoof.body.error, "this token is alice's");
  const ok = await opsAs(ALICE, 'POST', `/revs/deploy/${rev}/approve`, {});
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  assert.is(ok.body.row.by, 'manual:alice', 'the operator whose token it was, not mallory');
});

test('wrong ops tokens: a client is locked out after ten (429, even with the right token), others are not', async () => {
  for (let i = 0; i < 10; i++) assert.is((await opsAs(`wrong-token-${i}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`, 'GET', '/revs', undefined, '198.51.100.7')).status, 403);
  const locked = await opsAs(ROBERT, 'GET', '/revs', undefined, '198.51.100.7');
  assert.is(locked.status, 429);
  assert.match(locked.body.error, 'too many wrong ops tokens');
  assert.is((await opsAs(ROBERT, 'GET', '/revs', undefined, '198.51.100.8')).status, 200, 'another client is not locked out');
});

test('an ops token shorter than 32 characters is refused on the Worker itself (503), naming the rule', async () => {
  const weak = await startWorker(await buildTestWorker(), { OPS_TOKEN: 'short-token' });
  try {
    const res = await weak.dispatchFetch(`${BASE}/snappy-ops/api/revs`, { headers: { authorization: 'Bearer short-token' } });
    assert.is(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, 'shorter than 32 characters');
  } finally {
    await weak.dispose();
  }
});

test.run();
