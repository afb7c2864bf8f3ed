// Key rotation end to end, in real workerd and through the real CLI: a tenant moves to a new
// master key; the old key is refused from the next request; the two ids count as one tenant
// toward a quorum; the rows the old key left unshipped go out under the new one; history keeps
// the id that made it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { listKeys, ndjson, row, stageRev, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, ops, OPS_TOKEN, publicKeyOf, signed } from './client.ts';
import { buildTestWorker, portOf, r2Of, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

const OLD_KEY = 'old-laptop-key-Zx3kR9vQ2mT7wL5pN8cJ4hB6fD1sG0aY';
const NEW_KEY = 'new-laptop-key-Qw8eR4tY6uI2oP0aS9dF7gH5jK3lZ1xC';

test('rotate: the old key is refused at once, its unshipped rows go out under the new id, quorum counts one tenant, history stays attributed', async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const port = await portOf(mf);
  const blobs = new R2BlobStore(await r2Of(mf));
  const url = `http://127.0.0.1:${port}`;
  const T1 = await tenantIdOf(OLD_KEY);
  const T2 = await tenantIdOf(NEW_KEY);
  const old: Tenant = { masterKey: OLD_KEY, id: T1 };
  const [b, c] = (await Promise.all(['rot-b', 'rot-c'].map(tenant))) as [Tenant, Tenant];
  for (const t of [old, b, c]) await admit(mf, t);
  const rev = await stageRev(blobs, 'deploy', 'Deploy carefully.\n');
  const rev2 = await stageRev(blobs, 'other', 'Other.\n');

  const dir = tmpDir('snappy-rotate-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ worker: { url } }));
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const cli = (args: string[], key: string, env: Record<string, string> = {}) => runCli([...args, '--state', state], { cwd: dir, env: { SNAPPY_MASTER_KEY: key, SNAPPY_MACHINE_ID: 'laptop', ...env } });
  const evalRun = async (ref: string, score: number, run: string, key: string) => assert.is((await cli(['eval', '--skill', ref, '--score', String(score), '--run-id', run], key)).code, 0);
  const opsCli = (args: string[]) => runCli(args, { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });

  // Before the rotation: the old key ships two runs of each rev, and leaves one more unshipped.
  for (const r of ['a1', 'a2']) {
    await evalRun(`deploy:${rev}`, 0.95, r, OLD_KEY);
    await evalRun(`other:${rev2}`, 0.95, r, OLD_KEY);
  }
  const first = await cli(['run', 'push', '--json'], OLD_KEY);
  assert.is(first.code, 0, first.stderr);
  await evalRun(`deploy:${rev}`, 0.95, 'a3', OLD_KEY);

  // The operator links the ids with what `snappy ops key` prints under the new key.
  const key = await runCli(['ops', 'key', '--json'], { cwd: dir, env: { SNAPPY_MASTER_KEY: NEW_KEY } });
  assert.is(key.code, 0, key.stderr);
  const k = JSON.parse(key.stdout);
  assert.is(k.tenant, T2);
  const rotate = await opsCli(['ops', 'rotate', T1, k.tenant, k.publicKey, '--by', 'robert', '--json']);
  assert.is(rotate.code, 0, rotate.stderr);
  const r = JSON.parse(rotate.stdout);
  assert.equal([r.from.tenant, r.from.rotatedTo, r.from.rotatedBy, r.from.admitted], [T1, T2, 'robert', false]);
  assert.equal([r.to.tenant, r.to.formerIds, r.to.admitted], [T2, [T1], true]);

  // The old key is refused from the very next request, whatever it asks.
  await evalRun(`deploy:${rev}`, 0.95, 'a4', OLD_KEY);
  const refused = await cli(['run', 'push', '--json'], OLD_KEY);
  assert.is(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, `key was retired`);
  assert.match(refused.stderr, `tenant ${T2}`);
  const direct = await signed(mf, old, 'GET', '/v1/whoami', undefined);
  assert.equal([direct.status, direct.body.code], [403, 'E_ROTATED']);
  const oldDoctor = await cli(['doctor', '--json'], OLD_KEY);
  assert.is(oldDoctor.code, 1);
  const admission = JSON.parse(oldDoctor.stdout).checks.find((x: { name: string }) => x.name === 'admission');
  assert.is(admission.status, 'fail');
  assert.match(admission.message, 'retired key');
  assert.match(admission.fix, 'new key');

  // The machine takes the new key: what the old key aggregated and never shipped goes out now.
  const moved = await cli(['run', 'push', '--json'], NEW_KEY);
  assert.is(moved.code, 0, moved.stderr);
  assert.match(moved.stderr, `it was tenant ${T1}'s, it is now tenant ${T2}'s`);
  const t2Batches = await listKeys(blobs, Remote.aggregatePrefix + T2 + '/');
  assert.is(t2Batches.length, 1, 'one batch, stored under the new id');
  const shippedOld = (await text(blobs, t2Batches[0]!))!.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(shippedOld.map((x) => x.tenant), [T1, T1], 'the two rows the old key left (a3, a4) keep their id');
  await evalRun(`deploy:${rev}`, 0.9, 'a5', NEW_KEY);
  assert.is((await cli(['run', 'push'], NEW_KEY)).code, 0);

  // B endorses too. With T1 and T2 counted apart that would be three tenants; they are one.
  assert.is((await ingest(mf, b, ndjson([row(b, `deploy:${rev}`, 0.9, 'b1'), row(b, `other:${rev2}`, 0.9, 'b1')]))).status, 201);
  await (await mf.getWorker()).scheduled({ cron: '* * * * *' });
  assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}deploy/`), [], 'two tenants, not three: no promotion');
  const revs = (await ops(mf, 'GET', '/revs')).body.revs as { skill: string; endorsing: number; tenants: { tenant: string; runs: number }[] }[];
  const deploy = revs.find((x) => x.skill === 'deploy')!;
  assert.is(deploy.endorsing, 2);
  assert.equal(deploy.tenants.map((t) => [t.tenant, t.runs]).sort(), [[T2, 5], [b.id, 1]].sort(), 'the old id\'s 4 runs and the new id\'s 1 under the new id');

  // A third tenant completes the quorum: the changelog row counts 3 tenants.
  assert.is((await ingest(mf, c, ndjson([row(c, `deploy:${rev}`, 0.9, 'c1')]))).status, 201);
  const log = await eventually(async () => text(blobs, Remote.changelogEntry('deploy', 1)), 'the promotion');
  const promotion = JSON.parse(log);
  assert.equal([promotion.tenants, promotion.runs], [3, 7]);

  // History stays attributed: the tally keeps the id that made each run.
  const tally = JSON.parse((await text(blobs, Remote.tally('deploy', rev)))!);
  assert.equal(Object.keys(tally.tenants[T1]).length, 4);
  assert.equal(Object.keys(tally.tenants[T2]).length, 1);
  const list = await opsCli(['ops', 'tenants', 'list', '--json']);
  const byId = Object.fromEntries(JSON.parse(list.stdout).tenants.map((t: { tenant: string }) => [t.tenant, t]));
  assert.equal([byId[T1].rotatedTo, byId[T1].admitted, byId[T2].formerIds], [T2, false, [T1]]);
  const audit = JSON.parse((await opsCli(['ops', 'audit', '--json'])).stdout).audit as { action: string; tenant: string; by: string }[];
  assert.equal(audit.filter((e) => e.action === 'rotate').map((e) => [e.tenant, e.by]), [[T1, 'robert']]);

  // The new key's doctor: admitted, with the old id linked.
  const doctor = await cli(['doctor', '--json'], NEW_KEY);
  const checks = Object.fromEntries(JSON.parse(doctor.stdout).checks.map((x: { name: string }) => [x.name, x]));
  assert.is(checks.admission.status, 'pass', JSON.stringify(checks.admission));
  assert.match(checks.admission.message, `former ids ${T1}`);

  // Revoking the new id excludes every id the tenant had, the old one's runs included.
  assert.is((await opsCli(['ops', 'tenants', 'revoke', T2, '--by', 'robert'])).code, 0);
  const after = ((await ops(mf, 'GET', '/revs')).body.revs as { skill: string; endorsing: number; tenants: { tenant: string; excluded?: string }[] }[]).find((x) => x.skill === 'other')!;
  assert.equal(after.tenants.filter((t) => t.excluded).map((t) => [t.tenant, t.excluded]), [[T1, 'revoked']]);
  assert.is(after.endorsing, 1, 'only B');
});

test('rotation refuses what would make two tenants of one, or one of two; running it again changes nothing', async () => {
  mf ??= await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const [x, y, z] = (await Promise.all(['rr-x', 'rr-y', 'rr-z'].map(tenant))) as [Tenant, Tenant, Tenant];
  await admit(mf, x);
  await admit(mf, z);
  const rot = (from: string, to: Tenant, key?: string) => ops(mf!, 'POST', `/tenants/${from}/rotate`, { to: to.id, key, by: 'robert' });
  const yKey = await publicKeyOf(y);
  assert.equal([(await rot(x.id, x, await publicKeyOf(x))).status], [400], 'to itself');
  assert.is((await rot('eeeeeeeeeeee', y, yKey)).status, 404, 'an id the registry does not hold');
  assert.match((await rot(x.id, z, yKey)).body.error, 'admitted with another public key');
  assert.is((await rot(x.id, y, 'not-a-key')).status, 400);
  assert.is((await rot(x.id, y, yKey)).status, 200);
  const again = await rot(x.id, y, yKey);
  assert.is(again.status, 200, 'the same rotation again finishes or confirms it');
  const audit = (await ops(mf, 'GET', '/audit')).body.audit as { action: string; tenant: string }[];
  assert.is(audit.filter((e) => e.action === 'rotate' && e.tenant === x.id).length, 1, 'one audit entry');
  assert.match((await rot(x.id, z, await publicKeyOf(z))).body.error, `already rotated to ${y.id}`);
  const readmit = await ops(mf, 'POST', '/tenants', { tenant: x.id, key: await publicKeyOf(x), by: 'robert' });
  assert.is(readmit.status, 400);
  assert.match(readmit.body.error, 'its key is retired');
  assert.is((await rot(y.id, x, await publicKeyOf(x))).status, 400, 'back to a retired id');
});

test.run();
