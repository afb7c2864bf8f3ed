// Trust I in real workerd: the Worker is the only writer of shared state. Each attack measured
// on the release before signatures v2 is tried here again and must do no harm.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { formatAggRow } from '../../domain/agg-row.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { revIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { ndjson, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, ops, OPS_TOKEN, signed } from './client.ts';
import { buildTestWorker, startWorker } from './helpers.ts';

let mf: Miniflare;
let a: Tenant, b: Tenant, c: Tenant, d: Tenant;
let outsiders: Tenant[];

const bucket = () => mf.getR2Bucket('SNAPPY_BUCKET');
async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await (await bucket()).list({ prefix, ...(cursor ? { cursor } : {}) });
    out.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}
const enc = (files: Record<string, string>) => Object.entries(files).map(([name, text]) => ({ name, data: Buffer.from(text).toString('base64url') }));
const page = (skill: string, body: string) => `---\nname: ${skill}\n---\n# ${skill}\n\n${body}\n`;
const tick = async () => (await mf.getWorker()).scheduled({ cron: '* * * * *' });
const entriesOf = async (skill: string) => Promise.all((await keys(`${Remote.changelogPrefix}${skill}/`)).map(async (k) => JSON.parse(await (await (await bucket()).get(k))!.text())));
const promoted = async (skill: string, rev: string) => (await entriesOf(skill)).some((e) => e.action === 'promote' && e.rev_id === rev);

test.before(async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_INGEST_MAX_ROWS: '50', SNAPPY_INGEST_MAX_REVS: '3' });
  [a, b, c, d] = (await Promise.all(['a', 'b', 'c', 'd'].map(tenant))) as [Tenant, Tenant, Tenant, Tenant];
  outsiders = await Promise.all(['x', 'y', 'z'].map(tenant));
  for (const t of [a, b, c, d]) await admit(mf, t);
});
test.after(async () => {
  await mf?.dispose();
});

test('a tenant may write only its own pages, files and briefs: every other key is 403 and the bucket is unchanged', async () => {
  const rev = 'abcdefabcdef';
  const forbidden = [
    Remote.tally('summarize', rev),
    Remote.aggregateBatch(a.id, '0123456789abcdef'),
    Remote.aggregateIndex(Date.now(), a.id, '0123456789abcdef'),
    Remote.aggregateMeta(a.id, '0123456789abcdef'),
    'snappy-os/skills/summarize/summarize.md',
    Remote.changelogEntry('summarize', 1),
    Remote.changelogHead('summarize'),
    Remote.staged('summarize', rev),
    Remote.manifest('summarize', rev),
    Remote.tenantSkill(b.id, 'summarize'),
    Remote.brief(b.id, 'summarize', 'm1'),
    Remote.registryTenant(a.id),
    Remote.audit(Date.now(), 'forged'),
    Remote.feedEntry(Date.now(), 'forged'),
    Remote.replay(Date.now(), 'forged'),
    'snappy-kv/last_quorum_promotion',
    `snappy-tenants/${a.id}/elsewhere.md`,
    Remote.tenantPageHistory(b.id, 'summarize'),
    `snappy-tenants/${a.id}/history/-bad-skill.json`,
    `snappy-tenants/${a.id}/history/summarize.md`,
  ];
  const before = (await keys('')).length;
  for (const key of forbidden) {
    const r = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(key)}`, '{"forged":true}');
    assert.is(r.status, 403, `${key}: ${JSON.stringify(r.body)}`);
  }
  assert.is((await keys('')).length, before, 'nothing was written');
  const own = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(a.id, 'summarize'))}`, page('summarize', 'mine'), {}, { 'if-none-match': '*' });
  assert.is(own.status, 200, JSON.stringify(own.body));
  const again = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(a.id, 'summarize'))}`, page('summarize', 'again'), {}, { 'if-none-match': '*' });
  assert.is(again.status, 412, 'create-only holds through the Worker');
  const stale = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(a.id, 'summarize'))}`, page('summarize', 'stale'), {}, { 'if-match': '"not-the-etag"' });
  assert.is(stale.status, 412, 'if-match holds through the Worker');
  const brief = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.brief(a.id, 'summarize', 'm1'))}`, 'brief');
  assert.is(brief.status, 200);
  const history = await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantPageHistory(a.id, 'summarize'))}`, '{"v":1,"skill":"summarize","hashes":[]}');
  assert.is(history.status, 200, "a tenant keeps its own pages' history");
});

test('a tenant reads what a pull needs and nothing else: the registry, tallies and other tenants\' pages are 403', async () => {
  await signed(mf, b, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(b.id, 'triage'))}`, page('triage', 'b page'));
  const theirs = await signed(mf, a, 'GET', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(b.id, 'triage'))}`, undefined);
  assert.is(theirs.status, 403);
  const mine = await signed(mf, b, 'GET', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(b.id, 'triage'))}`, undefined);
  assert.is(mine.status, 200);
  assert.match(mine.text, 'b page');
  for (const prefix of [Remote.registryPrefix, Remote.quorumPrefix, 'snappy-kv/', Remote.replayPrefix, `snappy-tenants/${b.id}/`, 'snappy-tenants/', '']) {
    const r = await signed(mf, a, 'GET', `/v1/objects?prefix=${encodeURIComponent(prefix)}`, undefined);
    assert.is(r.status, 403, `listing ${JSON.stringify(prefix)}`);
  }
  const reg = await signed(mf, a, 'GET', `/v1/object?key=${encodeURIComponent(Remote.registryTenant(b.id))}`, undefined);
  assert.is(reg.status, 403);
  const briefs = await signed(mf, a, 'GET', `/v1/objects?prefix=${encodeURIComponent(Remote.briefsPrefix)}`, undefined);
  assert.is(briefs.status, 200);
  assert.ok(briefs.body.objects.some((o: { key: string }) => o.key === Remote.brief(a.id, 'summarize', 'm1')));
});

test('three never-admitted tenants cannot make a quorum: refused at ingest, and batches and a tally written straight into the bucket do not count', async () => {
  const p = page('summarize', 'forged by outsiders');
  const rev = await revIdOf(p);
  const stagedBy = await signed(mf, a, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev, files: enc({ 'summarize.md': p }) }));
  assert.is(stagedBy.status, 201, JSON.stringify(stagedBy.body));
  for (const t of outsiders) {
    const r = await ingest(mf, t, ndjson([0, 1].map((i) => row(t, `summarize:${rev}`, 1, `o-${i}`))));
    assert.is(r.status, 403);
  }
  // As if they could write the bucket (they cannot: it is the Worker's binding): batches, index entries and a tally.
  const r2 = await bucket();
  const tally: Record<string, Record<string, number>> = {};
  for (const t of outsiders) {
    const body = ndjson([0, 1].map((i) => row(t, `summarize:${rev}`, 1, `o-${i}`)));
    const id = await batchIdOf(body);
    await r2.put(Remote.aggregateBatch(t.id, id), body);
    await r2.put(Remote.aggregateIndex(Date.now(), t.id, id), Remote.aggregateBatch(t.id, id));
    tally[t.id] = { [`${t.id.slice(0, 4)}000000000001`]: 1, [`${t.id.slice(0, 4)}000000000002`]: 1 };
  }
  await r2.put(Remote.tally('summarize', rev), JSON.stringify({ v: 1, skill: 'summarize', rev, tenants: tally }));
  const res = await tick();
  assert.is(res.outcome, 'ok');
  assert.not.ok(await promoted('summarize', rev), 'no promotion from tenants the registry does not know');
  const revs = await ops(mf, 'GET', '/revs');
  const st = revs.body.revs.find((r: { rev: string }) => r.rev === rev);
  assert.is(st.endorsing, 0);
  assert.ok(st.tenants.every((t: { excluded?: string }) => t.excluded === 'not admitted'), 'shown for audit, marked');
});

test('admitted tenants through signed ingest do make a quorum (the control)', async () => {
  const p = page('triage', 'a real improvement');
  const rev = await revIdOf(p);
  assert.is((await signed(mf, b, 'POST', '/v1/stage', JSON.stringify({ skill: 'triage', rev, files: enc({ 'triage.md': p }) }))).status, 201);
  for (const t of [a, b, c]) assert.is((await ingest(mf, t, ndjson([0, 1].map((i) => row(t, `triage:${rev}`, 0.95, `ok-${i}`))))).status, 201);
  await tick();
  await eventually(async () => ((await promoted('triage', rev)) ? true : null), 'the promotion');
});

test('revocation takes effect on the next request and removes the tenant\'s runs from later decisions', async () => {
  const p = page('billing', 'revocation case');
  const rev = await revIdOf(p);
  assert.is((await signed(mf, a, 'POST', '/v1/stage', JSON.stringify({ skill: 'billing', rev, files: enc({ 'billing.md': p }) }))).status, 201);
  for (const t of [a, b]) assert.is((await ingest(mf, t, ndjson([0, 1].map((i) => row(t, `billing:${rev}`, 0.95, `rv-${i}`))))).status, 201);
  const revoked = await ops(mf, 'DELETE', `/tenants/${a.id}`, { by: 'robert' });
  assert.is(revoked.body.revoked, true);
  const next = await ingest(mf, a, ndjson([row(a, 'billing', 0.5, 'after-revoke')]));
  assert.is(next.status, 403);
  assert.match(next.body.error!, 'revoked');
  assert.is((await ingest(mf, c, ndjson([0, 1].map((i) => row(c, `billing:${rev}`, 0.95, `rv-${i}`))))).status, 201);
  await tick();
  assert.not.ok(await promoted('billing', rev), 'a, b, c scored it, but a is revoked: two tenants are not a quorum');
  assert.is((await ingest(mf, d, ndjson([0, 1].map((i) => row(d, `billing:${rev}`, 0.95, `rv-${i}`))))).status, 201);
  await tick();
  const changelog = (await entriesOf('billing')).find((e) => e.rev_id === rev);
  assert.ok(changelog, 'b, c, d make the quorum');
  assert.is(changelog.tenants, 3);
  const audit = await ops(mf, 'GET', '/audit');
  assert.ok(audit.body.audit.some((e: { action: string; tenant: string; by: string }) => e.action === 'revoke' && e.tenant === a.id && e.by === 'robert'), 'the revocation is in the audit record');
  // Admitted again for the tests that follow.
  await admit(mf, a);
});

test('a replayed request inside the window is answered from the first result and writes nothing', async () => {
  const body = ndjson([row(b, 'summarize', 0.7, 'replay-1')]);
  const ts = Date.now();
  const indexBefore = (await keys(Remote.aggregateIndexPrefix)).length;
  const first = await ingest(mf, b, body, { ts });
  assert.is(first.status, 201);
  const objectsAfterFirst = (await keys('')).length;
  for (let i = 0; i < 20; i++) {
    const r = await ingest(mf, b, body, { ts });
    assert.is(r.status, 201, 'the first answer, again');
    assert.is(r.headers.get('x-snappy-replay'), '1');
    assert.equal(r.body, first.body);
  }
  assert.is((await keys(Remote.aggregateIndexPrefix)).length, indexBefore + 1, 'one index entry');
  assert.is((await keys('')).length, objectsAfterFirst, 'replays wrote nothing');
  // A retry of the same rows with a fresh signature is a new request, and still adds nothing.
  const retry = await ingest(mf, b, body);
  assert.is(retry.status, 200);
  assert.is(retry.body.duplicate, true);
  assert.is((await keys(Remote.aggregateIndexPrefix)).length, indexBefore + 1, 'the batch keeps its one index entry');
});

test('nothing with tenant rows is public: /v1/aggregate needs a signature or the ops token; /v1/status shows counts only', async () => {
  const anon = await mf.dispatchFetch('http://snappy.test/v1/aggregate');
  assert.is(anon.status, 401);
  await anon.text();
  const tenantPull = await signed(mf, c, 'GET', '/v1/aggregate', undefined);
  assert.is(tenantPull.status, 200);
  assert.match(tenantPull.text, `"tenant":"${b.id}"`);
  const opsPull = await mf.dispatchFetch('http://snappy.test/v1/aggregate', { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  assert.is(opsPull.status, 200);
  await opsPull.text();
  const wrongOps = await mf.dispatchFetch('http://snappy.test/v1/aggregate', { headers: { authorization: 'Bearer nope' } });
  assert.is(wrongOps.status, 403);
  await wrongOps.text();
  const pub = await (await mf.dispatchFetch('http://snappy.test/v1/status')).json() as Record<string, unknown>;
  assert.ok('last_quorum_promotion' in pub && 'counts' in pub);
  assert.not.ok('staged' in pub, 'no per-rev detail for anyone');
  for (const t of [a, b, c, d]) assert.not.ok(JSON.stringify(pub).includes(t.id), 'no tenant id in the public status');
  const mine = await signed(mf, c, 'GET', '/v1/status', undefined);
  assert.is(mine.status, 200);
  assert.ok(Array.isArray(mine.body.staged));
  const canon = await mf.dispatchFetch('http://snappy.test/v1/canonical/triage');
  assert.is(canon.status, 200, 'canonical pages stay public');
  await canon.text();
});

test('staging: one request per rev, refused unless the page hashes to the rev id; a manifest is frozen beside it', async () => {
  const p = page('summarize', 'staged through the Worker');
  const rev = await revIdOf(p);
  const wrongHash = await signed(mf, c, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev: 'aaaaaaaaaaaa', files: enc({ 'summarize.md': p }) }));
  assert.is(wrongHash.status, 400);
  assert.match(wrongHash.body.error!, 'hashes to');
  const badName = await signed(mf, c, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev, files: enc({ 'summarize.md': p, '../evil.md': 'x' }) }));
  assert.is(badName.status, 400);
  const badSkill = await signed(mf, c, 'POST', '/v1/stage', JSON.stringify({ skill: '../x', rev, files: enc({ 'summarize.md': p }) }));
  assert.is(badSkill.status, 400);
  assert.is((await keys(Remote.stagedDir('summarize', rev))).length, 0, 'nothing of a refused rev is written');
  const ok = await signed(mf, c, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev, files: enc({ 'summarize.md': p, 'notes.txt': 'extra' }) }));
  assert.is(ok.status, 201);
  const manifest = JSON.parse(await (await (await bucket()).get(Remote.manifest('summarize', rev)))!.text());
  assert.equal(Object.keys(manifest.files).sort(), ['notes.txt', 'summarize.md']);
  const same = await signed(mf, a, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev, files: enc({ 'summarize.md': p, 'notes.txt': 'extra' }) }));
  assert.is(same.status, 200);
  assert.is(same.body.created, false);
  const other = await signed(mf, a, 'POST', '/v1/stage', JSON.stringify({ skill: 'summarize', rev, files: enc({ 'summarize.md': p, 'notes.txt': 'swapped' }) }));
  assert.is(other.status, 409, 'a staged rev is frozen');
  assert.is(await (await (await bucket()).get(Remote.staged('summarize', rev, 'notes.txt')))!.text(), 'extra');
});

test('the change feed shows a tenant its own pages and everyone\'s briefs and staged revs, from its cursor', async () => {
  const start = await signed(mf, d, 'GET', '/v1/changes', undefined);
  assert.is(start.body.reset, true);
  // The cursor trails by the skew window: writes from now on are all after it.
  const cursor = start.body.cursor as string;
  await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(a.id, 'feedtest'))}`, page('feedtest', 'a only'));
  await signed(mf, a, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.brief(a.id, 'feedtest', 'm2'))}`, 'shared brief');
  const forD = await signed(mf, d, 'GET', `/v1/changes?after=${encodeURIComponent(cursor)}`, undefined);
  assert.is(forD.status, 200);
  const seenByD = forD.body.objects.map((o: { key: string }) => o.key);
  assert.ok(seenByD.includes(Remote.brief(a.id, 'feedtest', 'm2')));
  assert.not.ok(seenByD.includes(Remote.tenantSkill(a.id, 'feedtest')), "another tenant's page is not in its feed");
  const forA = await signed(mf, a, 'GET', `/v1/changes?after=${encodeURIComponent(cursor)}`, undefined);
  assert.ok(forA.body.objects.some((o: { key: string; etag?: string }) => o.key === Remote.tenantSkill(a.id, 'feedtest') && o.etag));
  const bad = await signed(mf, a, 'GET', '/v1/changes?after=snappy-registry%2Fx', undefined);
  assert.is(bad.status, 400);
});

test('bounded batches: more rows or revs than the limits is 413 with the limits stated, nothing stored', async () => {
  const before = (await keys(Remote.aggregatePrefix)).length;
  const many = await ingest(mf, c, ndjson(Array.from({ length: 51 }, (_, i) => row(c, 'summarize', 0.5, `many-${i}`))));
  assert.is(many.status, 413);
  assert.match(many.body.error!, 'more than 50 rows');
  assert.is(many.headers.get('x-snappy-limit-rows'), '50');
  const revs = await ingest(mf, c, ndjson(['aaaaaaaaaaa1', 'aaaaaaaaaaa2', 'aaaaaaaaaaa3', 'aaaaaaaaaaa4'].map((r, i) => row(c, `summarize:${r}`, 0.5, `revs-${i}`))));
  assert.is(revs.status, 413);
  assert.match(revs.body.error!, 'more than 3 distinct staged revs');
  assert.is((await keys(Remote.aggregatePrefix)).length, before);
  const limits = await (await mf.dispatchFetch('http://snappy.test/v1/limits')).json() as { ingest: { rows: number; revs: number } };
  assert.equal([limits.ingest.rows, limits.ingest.revs], [50, 3]);
});

test('the registry and KV hold no secret a tenant could use', async () => {
  for (const k of await keys(Remote.registryPrefix)) {
    const text = await (await (await bucket()).get(k))!.text();
    assert.not.match(text, /"v1Key"/, `${k} holds no HMAC key`);
    for (const t of [a, b, c, d]) assert.not.ok(text.includes(t.masterKey));
  }
  const kv = await mf.getKVNamespace('SNAPPY_KV');
  const names = (await kv.list()).keys.map((k) => k.name);
  assert.not.ok(names.some((n) => n.startsWith('tenant:')), 'tenants live in the registry, not KV');
});

test.run();
