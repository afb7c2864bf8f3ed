import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore, type R2BucketLike } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { ndjson, row, stageRev, tenant, text } from '../plugins/quorum/fleet.ts';
import { ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

test('`snappy ops key` hands over the ingest key; `snappy ops tenants admit|list` and `ops approve` act through the Worker API', async () => {
  const port = await freePort();
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN }, { port });
  const dir = tmpDir('snappy-opscli-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], worker: { url: `http://127.0.0.1:${port}` } }));
  const t = await tenant('cli');
  const key = await runCli(['ops', 'key', '--json', '--allow-weak-key'], { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey } });
  assert.is(key.code, 0, key.stderr);
  const k = JSON.parse(key.stdout);
  assert.is(k.tenant, t.id);
  assert.match(k.ingestKey, /^[0-9a-f]{64}$/);
  const noKey = await runCli(['ops', 'key'], { cwd: dir });
  assert.is(noKey.code, 2);
  assert.match(noKey.stderr, 'SNAPPY_MASTER_KEY is not set');

  assert.is((await ingest(mf, t, ndjson([row(t, 'x', 0.5, '1')]))).status, 403, 'not admitted yet');
  const wrong = await runCli(['ops', 'tenants', 'admit', k.tenant, k.ingestKey], { cwd: dir, env: { SNAPPY_OPS_TOKEN: 'nope' } });
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, 'HTTP 403: wrong ops token');
  const admit = await runCli(['ops', 'tenants', 'admit', k.tenant, k.ingestKey, '--by', 'robert', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(admit.code, 0, admit.stderr);
  assert.is(JSON.parse(admit.stdout).where, `http://127.0.0.1:${port}`, 'it went through the Worker');
  const list = await runCli(['ops', 'tenants', 'list', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.equal(JSON.parse(list.stdout).tenants.map((x: { tenant: string; by: string }) => [x.tenant, x.by]), [[t.id, 'robert']]);
  assert.is((await ingest(mf, t, ndjson([row(t, 'x', 0.5, '1')]))).status, 201, 'admitted through the CLI, the tenant can ship');

  const blobs = new R2BlobStore((await mf.getR2Bucket('SNAPPY_BUCKET')) as unknown as R2BucketLike);
  const rev = await stageRev(blobs, 'gated', '---\nmanual_review: robert\n---\nGated.\n');
  const approve = await runCli(['ops', 'approve', 'gated', rev, '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(approve.code, 0, approve.stderr);
  assert.is(JSON.parse(approve.stdout).row.by, 'manual:robert');
  assert.is(JSON.parse((await text(blobs, Remote.changelog('gated', rev)))!).by, 'manual:robert');
});

test.run();
