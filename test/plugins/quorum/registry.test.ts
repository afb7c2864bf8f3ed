// The tenant registry on the file remote (direct mode's operator, and the same code the Worker
// runs on R2): compare-and-swap under concurrency, the audit record, the v1 upgrade path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BlobKV } from '../../../adapters/blob-kv.ts';
import { FileBlobStore } from '../../../adapters/file-blob-store.ts';
import { tenantSigner } from '../../../domain/auth.ts';
import { ingestKeyOf } from '../../../domain/ingest-protocol.ts';
import { Remote } from '../../../domain/layout.ts';
import { admitTenant, auditLog, getTenant, listTenants, migrateLegacyTenant, rekeyTenant, revokeTenant } from '../../../domain/registry.ts';
import { identitiesOf } from '../../../domain/rotation.ts';
import { runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { tenant } from './fleet.ts';

const store = () => new FileBlobStore(path.join(tmpDir('snappy-registry-'), 'r'));

test('admit, revoke, admit again: one record per tenant, every step in the audit, standings follow', async () => {
  const blobs = store();
  const t = await tenant('reg-a');
  const key = (await tenantSigner(t.masterKey, t.id)).publicKey;
  const view = await admitTenant(blobs, t.id, key, 'robert');
  assert.equal([view.admitted, view.signatures, view.admittedBy], [true, ['v2'], 'robert']);
  assert.equal(await identitiesOf(blobs, [t.id, 'ffffffffffff']), new Map([[t.id, { id: t.id, standing: 'ok' }], ['ffffffffffff', { id: 'ffffffffffff', standing: 'not admitted' }]]));
  assert.is(await revokeTenant(blobs, t.id, 'alice'), true);
  assert.is(await revokeTenant(blobs, t.id, 'alice'), false, 'revoking twice changes nothing');
  assert.is(await revokeTenant(blobs, 'eeeeeeeeeeee', 'alice'), false);
  assert.is((await identitiesOf(blobs, [t.id])).get(t.id)!.standing, 'revoked');
  await admitTenant(blobs, t.id, key, 'robert');
  const rec = await getTenant(blobs, t.id);
  assert.is(rec!.revokedAt, undefined, 'admitted again');
  const audit = await auditLog(blobs);
  assert.equal(audit.map((e) => `${e.action} ${e.by}`), ['admit robert', 'revoke alice', 'admit robert']);
  const bad = await admitTenant(blobs, 'NOT-HEX', key, 'robert').catch((e) => e);
  assert.is(bad.code, 'E_REGISTRY');
  assert.is(bad.status, 400);
  const v1 = await admitTenant(blobs, t.id, await ingestKeyOf(t.masterKey), 'robert').catch((e) => e);
  assert.match(String(v1.message), 'signatures v1 are retired', 'a v1 key only inside the window');
});

test('concurrent admissions and revocations never tear the record: compare-and-swap on the file remote', async () => {
  const blobs = store();
  const t = await tenant('reg-b');
  const key = (await tenantSigner(t.masterKey, t.id)).publicKey;
  await admitTenant(blobs, t.id, key, 'first');
  await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? revokeTenant(blobs, t.id, `op${i}`) : admitTenant(blobs, t.id, key, `op${i}`))));
  const rec = await getTenant(blobs, t.id);
  assert.is(rec!.tenant, t.id);
  assert.is(rec!.publicKey, key);
  assert.is((await auditLog(blobs)).length >= 7, true, 'every admission and each effective revocation is recorded');
  assert.equal((await listTenants(blobs)).map((x) => x.tenant), [t.id]);
});

test('a KV record of the release before v2 moves into the registry once, and its v1 key goes at the upgrade', async () => {
  const blobs = store();
  const kv = new BlobKV(blobs);
  const t = await tenant('reg-c');
  await kv.put(`tenant:${t.id}`, JSON.stringify({ ingestKey: await ingestKeyOf(t.masterKey), admittedAt: '2026-01-01T00:00:00.000Z', by: 'robert' }));
  const moved = await migrateLegacyTenant(blobs, kv, t.id);
  assert.is(moved!.v1Key, await ingestKeyOf(t.masterKey));
  assert.is(await kv.get(`tenant:${t.id}`), null);
  assert.is(await migrateLegacyTenant(blobs, kv, t.id), null, 'nothing left to move');
  const key = (await tenantSigner(t.masterKey, t.id)).publicKey;
  const view = await rekeyTenant(blobs, t.id, key);
  assert.equal(view.signatures, ['v2']);
  const raw = new TextDecoder().decode((await blobs.get(Remote.registryTenant(t.id)))!);
  assert.not.match(raw, /v1Key/);
  assert.equal((await auditLog(blobs)).map((e) => e.action), ['rekey', 'migrate']);
});

test('direct mode: `snappy ops tenants admit|list|revoke` and `ops audit` act on the remote\'s registry', async () => {
  const dir = tmpDir('snappy-ops-direct-');
  const remote = `file://${path.join(dir, 'remote')}`;
  const env = { SNAPPY_MASTER_KEY: 'direct-ops-master-key-4f1c9e2b7a6d5c3e8f0a1b2c3d4e5f60', SNAPPY_STATE: path.join(dir, 'state') };
  mkdirSync(env.SNAPPY_STATE, { recursive: true });
  mkdirSync(path.join(dir, 'remote'));
  const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: dir, env })).stdout);
  const admit = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'robert', '--remote', remote, '--json'], { cwd: dir, env: { SNAPPY_STATE: env.SNAPPY_STATE } });
  assert.is(admit.code, 0, admit.stderr);
  assert.is(JSON.parse(admit.stdout).where, remote);
  const blobs = new FileBlobStore(path.join(dir, 'remote'));
  assert.is((await getTenant(blobs, k.tenant))!.publicKey, k.publicKey);
  const revoke = await runCli(['ops', 'tenants', 'revoke', k.tenant, '--by', 'robert', '--remote', remote], { cwd: dir, env: { SNAPPY_STATE: env.SNAPPY_STATE } });
  assert.is(revoke.code, 0, revoke.stderr);
  const audit = await runCli(['ops', 'audit', '--remote', remote, '--json'], { cwd: dir, env: { SNAPPY_STATE: env.SNAPPY_STATE } });
  assert.equal(JSON.parse(audit.stdout).audit.map((e: { action: string }) => e.action), ['revoke', 'admit']);
});

test.run();
