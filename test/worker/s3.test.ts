import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { S3BlobStore } from '../../adapters/s3-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { startS3rver, type S3Server } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { listKeys, ndjson, promotionDone, promotionText, row, stageRev, tenant, text } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker } from './helpers.ts';

let s3: S3Server;
let mf: Miniflare;
let blobs: S3BlobStore;

test.before(async () => {
  s3 = await startS3rver(['fleet']);
  blobs = new S3BlobStore({ bucket: 'fleet', prefix: 'p', endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, env: {} });
  mf = await startWorker(await buildTestWorker('test/worker/fixtures/single-writer.config.ts'), {
    OPS_TOKEN,
    SNAPPY_S3_BUCKET: 'fleet',
    SNAPPY_S3_PREFIX: 'p',
    SNAPPY_S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  });
});
test.after(async () => {
  await mf?.dispose();
  await s3?.stop();
});

test('s3rver ignores conditional writes: the tick refuses it (E_BACKEND, naming the store) unless one writer is declared', async () => {
  const dir = tmpDir('snappy-s3probe-');
  writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({ builtins: ['quorum'], s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } }));
  writeFileSync(path.join(dir, 'declared.json'), JSON.stringify({ builtins: ['quorum'], quorum: { singleWriter: true }, s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } }));
  const refused = await runCli(['run', 'tick', '--remote', 's3://fleet/probe', '--config', 'plain.json', '--json'], { cwd: dir, env: s3.env });
  assert.is(refused.code, 1, refused.stderr);
  const err = JSON.parse(refused.stdout).error;
  assert.is(err.code, 'E_BACKEND');
  assert.match(err.message, 's3://fleet/probe does not enforce conditional writes');
  assert.match(err.message, 'quorum: { singleWriter: true }');
  const declared = await runCli(['run', 'tick', '--remote', 's3://fleet/probe', '--config', 'declared.json'], { cwd: dir, env: s3.env });
  assert.is(declared.code, 0, declared.stderr);
  assert.match(declared.stderr, 'going on because config quorum.singleWriter declares this tick runner the only writer');
});

test('the Worker in workerd uses the tenants\' S3 bucket (one writer declared): ingest, promotion by the cron, and the same state seen by `snappy run tick --remote s3://`', async () => {
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) await admit(mf, t);
  const rev = await stageRev(blobs, 'summarize', 'Summarize via S3.\n');
  for (const t of fleet) {
    const r = await ingest(mf, t, ndjson([row(t, `summarize:${rev}`, 0.9, 's1'), row(t, `summarize:${rev}`, 0.92, 's2')]));
    assert.is(r.status, 201, JSON.stringify(r.body));
  }
  // A declared single writer: ingest does not tick, the cron does.
  assert.is(await promotionText(blobs, 'summarize', rev), null, 'no tick at ingest');
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  await eventually(async () => ((await promotionDone(blobs, 'summarize', rev)) ? true : null), 'promotion in the S3 bucket');
  assert.is(await text(blobs, `${Remote.canonicalDir('summarize')}summarize.md`), 'Summarize via S3.\n');
  assert.is(JSON.parse((await promotionText(blobs, 'summarize', rev))!).by, 'quorum');
  assert.is((await listKeys(blobs, Remote.aggregatePrefix)).length, 3, 'batches landed in the shared bucket');
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  // The same bucket from Node: KV lives in Cloudflare KV for the Worker, so only bucket state is shared.
  const dir = tmpDir('snappy-s3tick-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], quorum: { singleWriter: true }, s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } }));
  const r = await runCli(['run', 'tick', '--remote', 's3://fleet/p', '--json'], { cwd: dir, env: s3.env });
  assert.is(r.code, 0, r.stderr);
  const q = JSON.parse(r.stdout).reports.tick.quorum;
  assert.equal(q.promoted, [], 'already promoted: the Node tick promotes nothing again');
  assert.is(q.scan.batches, 0, 'the Worker\'s ticks already applied every batch');
});

test.run();
