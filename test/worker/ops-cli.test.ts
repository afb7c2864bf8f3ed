import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { ndjson, promotionText, row, stageRev, tenant } from '../plugins/quorum/fleet.ts';
import { ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker, r2Of } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

test('`snappy ops key` hands over the public key; `snappy ops tenants admit|list|revoke`, `ops audit` and `ops approve` act through the Worker API; Worker mode refuses --remote and run tick', async () => {
  const port = await freePort();
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN }, { port });
  const dir = tmpDir('snappy-opscli-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], worker: { url: `http://127.0.0.1:${port}` } }));
  const t = await tenant('cli');
  const key = await runCli(['ops', 'key', '--json', '--allow-weak-key'], { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey } });
  assert.is(key.code, 0, key.stderr);
  const k = JSON.parse(key.stdout);
  assert.is(k.tenant, t.id);
  assert.match(k.publicKey, /^[A-Za-z0-9_-]{43}$/);
  assert.not.ok(key.stdout.includes(t.masterKey), 'the master key is never printed');
  const noKey = await runCli(['ops', 'key'], { cwd: dir });
  assert.is(noKey.code, 2);
  assert.match(noKey.stderr, 'SNAPPY_MASTER_KEY is not set');

  assert.is((await ingest(mf, t, ndjson([row(t, 'x', 0.5, '1')]))).status, 403, 'not admitted yet');
  const noToken = await runCli(['ops', 'tenants', 'list'], { cwd: dir });
  assert.is(noToken.code, 2);
  assert.match(noToken.stderr, 'set SNAPPY_OPS_TOKEN');
  const wrong = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey], { cwd: dir, env: { SNAPPY_OPS_TOKEN: 'nope' } });
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, 'HTTP 403: wrong ops token');
  const admit = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'robert', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(admit.code, 0, admit.stderr);
  assert.is(JSON.parse(admit.stdout).where, `http://127.0.0.1:${port}`, 'it went through the Worker');
  const list = await runCli(['ops', 'tenants', 'list', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.equal(JSON.parse(list.stdout).tenants.map((x: { tenant: string; admittedBy: string; publicKey: string }) => [x.tenant, x.admittedBy, x.publicKey]), [[t.id, 'robert', k.publicKey]]);
  assert.is((await ingest(mf, t, ndjson([row(t, 'x', 0.5, '1')]))).status, 201, 'admitted through the CLI, the tenant can ship');

  const blobs = new R2BlobStore(await r2Of(mf));
  const rev = await stageRev(blobs, 'gated', '---\nmanual_review: robert\n---\nGated.\n');
  // One shared OPS_TOKEN cannot tell operators apart: the approver must name themself.
  const anonymous = await runCli(['ops', 'approve', 'gated', rev], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(anonymous.code, 2, anonymous.stderr);
  assert.match(anonymous.stderr, 'by: name the operator who acts');
  const approve = await runCli(['ops', 'approve', 'gated', rev, '--by', 'alice', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(approve.code, 0, approve.stderr);
  assert.is(JSON.parse(approve.stdout).row.by, 'manual:alice', 'the operator, not the page author (robert)');
  assert.is(JSON.parse((await promotionText(blobs, 'gated', rev))!).by, 'manual:alice');

  const withRemote = await runCli(['run', 'pull', '--remote', `file://${dir}/r`], { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey } });
  assert.is(withRemote.code, 2, 'Worker mode and a remote together are a usage error');
  assert.match(withRemote.stderr, '--remote names a remote, but config worker.url');
  const tick = await runCli(['run', 'tick'], { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey } });
  assert.is(tick.code, 2);
  assert.match(tick.stderr, 'the Worker ticks every minute itself');
  const noMaster = await runCli(['status', '--state', dir], { cwd: dir });
  assert.is(noMaster.code, 2);
  assert.match(noMaster.stderr, 'needs SNAPPY_MASTER_KEY');

  const revoke = await runCli(['ops', 'tenants', 'revoke', t.id, '--by', 'robert', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(revoke.code, 0, revoke.stderr);
  assert.is(JSON.parse(revoke.stdout).revoked, true);
  assert.is((await ingest(mf, t, ndjson([row(t, 'x', 0.5, '2')]))).status, 403, 'revoked: refused on the very next request');
  const audit = await runCli(['ops', 'audit', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.equal(JSON.parse(audit.stdout).audit.map((e: { action: string; by: string }) => `${e.action} by ${e.by}`), ['revoke by robert', 'admit by robert']);
});

test.run();
