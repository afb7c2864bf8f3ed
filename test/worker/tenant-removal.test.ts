// `snappy ops tenants remove` through a real Worker with real CLI machines: refused for a live
// tenant, and for a revoked one its batches, index entries, pages, briefs and seen record go,
// its rows leave every pull (segments included) and a machine's union at its next pull.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { listKeys, ndjson, row, text } from '../plugins/quorum/fleet.ts';
import { BASE, OPS_TOKEN } from './client.ts';
import { buildTestWorker, portOf, r2Of, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

async function machine(url: string, name: string) {
  const root = tmpDir(`snappy-remove-${name}-`);
  const state = path.join(root, 'state');
  mkdirSync(path.join(state, 'log'), { recursive: true });
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  const config = path.join(root, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate'], worker: { url } }));
  const masterKey = `remove-${name}-0123456789abcdef0123456789abcdef`;
  const env = { SNAPPY_MASTER_KEY: masterKey, SNAPPY_MACHINE_ID: `m-${name}`, SNAPPY_STATE: state, SNAPPY_CONFIG: config };
  const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: root, env })).stdout);
  const ops = (...args: string[]) => runCli(['ops', ...args], { cwd: root, env: { ...env, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is((await ops('tenants', 'admit', k.tenant, k.publicKey, '--by', 'test')).code, 0);
  const evals = Array.from({ length: 3 }, (_, i) => JSON.stringify({ ts: new Date().toISOString(), skill: 'triage', score: 0.6, run_id: `${name}-${i}`, ok: true }));
  writeFileSync(path.join(state, 'log', 'evals.ndjson'), evals.map((l) => `${l}\n`).join(''));
  writeFileSync(path.join(state, 'skills', 'triage.md'), `# triage, as ${name} has it\n`);
  const push = await runCli(['run', 'push'], { cwd: root, env });
  assert.is(push.code, 0, push.stderr);
  const file = path.join(state, 'log', 'evals.aggregate.ndjson');
  const lines = () => (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').filter((l) => l.trim());
  return { root, env, tenant: k.tenant as string, masterKey, ops, file, lines, pull: () => runCli(['run', 'pull', '--json'], { cwd: root, env }) };
}

const tenantKeys = async (blobs: R2BlobStore, t: string) =>
  (await Promise.all([`${Remote.aggregatePrefix}${t}/`, `snappy-agg-meta/${t}/`, `snappy-tenants/${t}/`, Remote.tenantBriefsPrefix(t), Remote.seen(t)].map((p) => listKeys(blobs, p)))).flat().concat((await listKeys(blobs, Remote.aggregateIndexPrefix)).filter((k) => k.includes(`-${t}-`)));

test('remove refuses a live tenant (exit 2); for a revoked one its data goes, its rows leave every pull, segments included, and a machine drops them at its next pull', async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const url = `http://127.0.0.1:${await portOf(mf)}`;
  const blobs = new R2BlobStore(await r2Of(mf));
  const stay = await machine(url, 'stay');
  const leave = await machine(url, 'leave');
  // History of the leaving tenant from hours ago (with its meta, as ingest stores it), compacted into segments.
  const old = ndjson(Array.from({ length: 4 }, (_, i) => ({ ...row({ id: leave.tenant, masterKey: leave.masterKey }, 'triage', 0.7, `old-${i}`) })));
  const id = await batchIdOf(old);
  const index = Remote.aggregateIndex(Date.now() - 3 * 3_600_000, leave.tenant, id);
  await blobs.put(Remote.aggregateMeta(leave.tenant, id), JSON.stringify({ index }), { ifAbsent: true });
  await blobs.put(Remote.aggregateBatch(leave.tenant, id), old, { ifAbsent: true });
  await blobs.put(index, Remote.aggregateBatch(leave.tenant, id), { ifAbsent: true });
  await blobs.put(`${Remote.tenantBriefsPrefix(leave.tenant)}triage.m-leave.md`, 'a brief');
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const segments = (await listKeys(blobs, Remote.aggregateSegmentPrefix)).filter((k) => k.endsWith('.ndjson'));
  assert.ok(segments.length > 0, 'the closed hour was compacted');
  assert.ok((await Promise.all(segments.map((k) => text(blobs, k)))).join('').includes(leave.tenant), 'the segment holds rows of the leaving tenant');

  assert.is((await stay.pull()).code, 0);
  const leaving = (l: string) => JSON.parse(l).tenant === leave.tenant;
  assert.is(stay.lines().filter(leaving).length, 3 + 4, 'a machine of another tenant holds the leaving tenant\'s rows');
  const held = (await tenantKeys(blobs, leave.tenant)).sort();
  assert.ok(held.some((k) => k.startsWith('snappy-tenants/')) && held.some((k) => k.startsWith(Remote.seenPrefix)) && held.some((k) => k.startsWith(Remote.briefsPrefix)), `the tenant has pages, a brief and a seen record: ${held.join(', ')}`);

  const refused = await stay.ops('tenants', 'remove', leave.tenant, '--by', 'test');
  assert.is(refused.code, 2, `a tenant not revoked is refused: ${refused.stderr}`);
  assert.match(refused.stderr, `tenant ${leave.tenant} is not revoked`);
  assert.equal((await tenantKeys(blobs, leave.tenant)).sort(), held, 'and nothing of it was deleted');
  const unknown = await stay.ops('tenants', 'remove', '0123456789ab', '--by', 'test');
  assert.is(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, 'not in the registry');

  assert.is((await stay.ops('tenants', 'revoke', leave.tenant, '--by', 'test')).code, 0);
  const removed = await stay.ops('tenants', 'remove', leave.tenant, '--by', 'test', '--json');
  assert.is(removed.code, 0, removed.stderr);
  const r = JSON.parse(removed.stdout).removal;
  assert.is(r.done, true);
  assert.is(r.batches, 2, 'its pushed batch and its old one');
  assert.is(r.indexEntries, 2);
  assert.is(r.briefs, 1);
  assert.is(r.seen, true);
  assert.equal(await tenantKeys(blobs, leave.tenant), [], 'nothing of the tenant is left: batches, meta, index entries, pages, briefs, seen record');
  const rec = JSON.parse((await text(blobs, Remote.registryTenant(leave.tenant)))!);
  assert.ok(rec.revokedAt && rec.removedAt, 'the registry keeps the tenant, revoked and marked removed');
  assert.ok((await listKeys(blobs, Remote.aggregateSegmentPrefix)).length >= segments.length, 'segments are not rewritten');
  const again = await stay.ops('tenants', 'remove', leave.tenant, '--by', 'test', '--json');
  assert.is(again.code, 0, 'removing it again finds nothing left');
  assert.is(JSON.parse(again.stdout).removal.batches, 0);

  const res = await mf.dispatchFetch(`${BASE}/v1/aggregate`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  const served = await res.text();
  assert.ok(Number(res.headers.get('x-snappy-segments')) > 0, 'the fresh pull read the segment');
  assert.not.ok(served.includes(leave.tenant), 'a fresh pull gets none of its rows');
  assert.ok(served.includes(stay.tenant), 'and the other tenant\'s rows still');
  assert.is(res.headers.get('x-snappy-removed-tenants'), leave.tenant);

  const ownBefore = stay.lines().filter((l) => !leaving(l));
  const p = await stay.pull();
  assert.is(p.code, 0, p.stderr);
  assert.is(stay.lines().filter(leaving).length, 0, 'the machine dropped the removed tenant\'s rows at its next pull');
  assert.equal(stay.lines(), ownBefore, 'and kept every other row, once');
  const lint = await runCli(['lint', 'aggregate', stay.file], { cwd: stay.root, env: stay.env });
  assert.is(lint.code, 0, lint.stdout);
});

test.run();
