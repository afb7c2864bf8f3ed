// Moving a fleet from signatures v1 (HMAC ingest keys in KV) to v2 (Ed25519 public keys in the
// registry), in real workerd, with the real client: inside the window v1 still ingests and the
// client registers its v2 key by itself; after it, v1 is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { WorkerRemote } from '../../adapters/worker-remote.ts';
import { ingestKeyOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { ndjson, row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { ingest, ops, OPS_TOKEN, signed } from './client.ts';
import { buildTestWorker, portOf, startWorker } from './helpers.ts';

let open: Miniflare;
let closed: Miniflare;
let url = '';
let old: Tenant;
let other: Tenant;

test.before(async () => {
  const script = await buildTestWorker();
  open = await startWorker(script, { OPS_TOKEN, SNAPPY_V1_UNTIL: new Date(Date.now() + 86_400_000).toISOString() });
  const port = await portOf(open);
  url = `http://127.0.0.1:${port}`;
  closed = await startWorker(script, { OPS_TOKEN, SNAPPY_V1_UNTIL: new Date(Date.now() - 1000).toISOString() });
  [old, other] = await Promise.all([tenant('upgrading'), tenant('late')]);
  // As the release before v2 admitted a tenant: its v1 ingest key in KV.
  const legacy = JSON.stringify({ ingestKey: await ingestKeyOf(old.masterKey), admittedAt: '2026-01-01T00:00:00.000Z', by: 'robert' });
  await (await open.getKVNamespace('SNAPPY_KV')).put(`tenant:${old.id}`, legacy);
  await (await closed.getKVNamespace('SNAPPY_KV')).put(`tenant:${old.id}`, legacy);
});
test.after(async () => {
  await open?.dispose();
  await closed?.dispose();
});

test('inside the window a v1 tenant still ingests; its KV record moves to the registry; v1 never reaches the other routes', async () => {
  const r = await ingest(open, old, ndjson([row(old, 'summarize', 0.8, 'v1-a')]), { v1: true });
  assert.is(r.status, 201, JSON.stringify(r.body));
  const kv = await open.getKVNamespace('SNAPPY_KV');
  assert.is(await kv.get(`tenant:${old.id}`), null, 'moved out of KV');
  const list = await ops(open, 'GET', '/tenants');
  const rec = list.body.tenants.find((t: { tenant: string }) => t.tenant === old.id);
  assert.equal(rec.signatures, ['v1']);
  assert.is(rec.admittedBy, 'robert');
  const v1Elsewhere = await signed(open, old, 'GET', '/v1/changes', undefined, { v1: true });
  assert.is(v1Elsewhere.status, 401);
  assert.match(v1Elsewhere.body.error!, 'signatures v2 only');
  const v2NoKey = await signed(open, old, 'GET', '/v1/changes', undefined);
  assert.is(v2NoKey.status, 403);
  assert.is(v2NoKey.headers.get('x-snappy-rekey'), '1');
});

test('the upgraded client registers its v2 key by itself (signed v1, once) and from then on the v1 key is gone', async () => {
  const client = new WorkerRemote(url, { tenant: old.id, masterKey: old.masterKey });
  const info = await client.head(Remote.tenantSkill(old.id, 'nothing-yet'));
  assert.is(info, null, 'the request went through after the key was registered');
  const list = await ops(open, 'GET', '/tenants');
  const rec = list.body.tenants.find((t: { tenant: string }) => t.tenant === old.id);
  assert.equal(rec.signatures, ['v2']);
  const r2 = await open.getR2Bucket('SNAPPY_BUCKET');
  const stored = await (await r2.get(Remote.registryTenant(old.id)))!.text();
  assert.not.match(stored, /v1Key/, 'no HMAC key left in the registry');
  const v1Again = await ingest(open, old, ndjson([row(old, 'summarize', 0.8, 'v1-b')]), { v1: true });
  assert.is(v1Again.status, 403, 'the v1 key no longer signs for this tenant');
  const shipped = await client.shipAggregate(ndjson([row(old, 'summarize', 0.8, 'v2-a')]));
  assert.is(shipped.rows, 1);
  const audit = await ops(open, 'GET', '/audit');
  const actions = audit.body.audit.filter((e: { tenant: string }) => e.tenant === old.id).map((e: { action: string }) => e.action);
  assert.equal(actions.sort(), ['migrate', 'rekey']);
});

test('inside the window the operator may still admit a v1 ingest key; after it, neither admission nor ingest takes v1', async () => {
  const key = await ingestKeyOf(other.masterKey);
  const admitted = await ops(open, 'POST', '/tenants', { tenant: other.id, key, by: 'robert' });
  assert.is(admitted.status, 200, JSON.stringify(admitted.body));
  assert.equal(admitted.body.tenant.signatures, ['v1']);
  const refused = await ops(closed, 'POST', '/tenants', { tenant: other.id, key, by: 'robert' });
  assert.is(refused.status, 400);
  assert.match(refused.body.error, 'signatures v1 are retired');
  const late = await ingest(closed, old, ndjson([row(old, 'summarize', 0.8, 'late')]), { v1: true });
  assert.is(late.status, 401);
  assert.match(late.body.error!, 'signatures v1 are retired on this Worker since');
  const kv = await closed.getKVNamespace('SNAPPY_KV');
  assert.ok(await kv.get(`tenant:${old.id}`), 'after the window a v1 request does not even migrate the record');
});

test.run();
