import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { S3BlobStore } from '../../../adapters/s3-blob-store.ts';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { startS3rver, type S3Server } from '../../helpers/s3rver.ts';
import { machine, manyFiles, writeTree } from './fixtures.ts';
import { bucketObjects, s3Env } from './s3-objects.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let srv: S3Server;
test.before(async () => {
  srv = await startS3rver(['snappy']);
});
test.after(async () => {
  await srv?.stop();
});

test('s3rver killed (kill -9) in the middle of a push, then restarted: the rerun completes, nothing lost or duplicated', async () => {
  const m = machine({ id: 'k1', key: 'fault-tenant', remote: 's3://snappy/f', env: s3Env(srv) });
  const cfg = path.join(path.dirname(m.state), 'snappy.config.json');
  writeFileSync(cfg, JSON.stringify({ builtins: ['sync'], sync: { concurrency: 4, retries: 1, retryBaseMs: 20 } }));
  const files = manyFiles(200, "p");
  writeTree(m.state, files);
  const child = spawnCli(['run', 'push', '--state', m.state, '--remote', 's3://snappy/f', '--config', cfg], { env: { ...m.env, ...s3Env(srv) } });
  const done = collect(child);
  const probe = new S3BlobStore({ bucket: 'snappy', endpoint: srv.endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', maxAttempts: 1 });
  let seen = 0;
  for (let i = 0; i < 400 && seen < 30; i++) {
    seen = 0;
    for await (const _ of probe.list('f/')) seen++;
    await sleep(25);
  }
  probe.destroy();
  assert.ok(seen >= 30 && seen < 202, `push had sent ${seen} objects when the server was killed`);
  await srv.kill();
  const first = await done;
  await srv.start();
  assert.is(first.code, 1, `the push with its server gone did not fail: ${first.stderr}`);
  assert.match(first.stderr, /failed for \d+ of \d+ objects/);
  const rerun = await m.json(['run', 'push'], s3Env(srv));
  assert.is(rerun.res.code, 0, rerun.res.stderr);
  const objects = await bucketObjects(srv);
  const ours = Object.keys(objects).filter((k) => k.startsWith('f/'));
  assert.is(ours.length, Object.keys(files).length + 1, 'every file, and the staged rev\'s manifest');
  for (const [rel, body] of Object.entries(files)) {
    const key = ours.find((k) => k.endsWith(rel.startsWith('skills/') ? `/${rel}` : rel.replace('staging/', 'snappy-os-staging/').replace('log/regen-queue/', '/')));
    assert.ok(key, `${rel} is missing on the remote`);
    assert.is(objects[key!], body, `${rel} arrived with other bytes`);
  }
  const again = await m.json(['run', 'push'], s3Env(srv));
  assert.is(again.out.reports.push.files, 0, 'the push after the rerun sent files again');
});

test.run();
