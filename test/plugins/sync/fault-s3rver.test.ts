import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointLog } from '../../helpers/checkpoints.ts';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { startS3rver, type S3Server } from '../../helpers/s3rver.ts';
import { fuzzSeed, prng } from '../../helpers/seed.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, manyFiles, writeTree } from './fixtures.ts';
import { S3BlobStore } from '../../../adapters/s3-blob-store.ts';
import { bucketObjects, s3Env } from './s3-objects.ts';

const seed = fuzzSeed('sync/fault-s3rver', 0x53_3e_40);

let srv: S3Server;
test.before(async () => {
  srv = await startS3rver(['snappy']);
});
test.after(async () => {
  await srv?.stop();
});

test('s3rver killed (kill -9) in the middle of a push (at a seeded object), then restarted: the rerun completes, nothing lost or duplicated', async () => {
  const m = machine({ id: 'k1', key: 'fault-tenant', remote: 's3://snappy/f', env: s3Env(srv) });
  const cfg = path.join(path.dirname(m.state), 'snappy.config.json');
  writeFileSync(cfg, JSON.stringify({ builtins: ['sync'], sync: { concurrency: 4, retries: 1, retryBaseMs: 20 } }));
  const files = manyFiles(200, "p");
  writeTree(m.state, files);
  const total = Object.keys(files).length;
  // The push is held right after its k-th object is stored; the server dies while it waits.
  // At least 5 objects are left then, more than the 4 in flight: some must meet the dead server.
  const k = 1 + Math.floor(prng(seed)() * (total - 5));
  const log = new CheckpointLog();
  const child = spawnCli(['run', 'push', '--state', m.state, '--remote', 's3://snappy/f', '--config', cfg], { env: { ...m.env, ...s3Env(srv), ...log.env({ point: 'push:object', n: k }) } });
  const done = collect(child);
  let ended = false;
  void done.then(() => (ended = true));
  await log.until((ps) => ps.some((p) => p.point === 'push:object' && p.n === k), () => (ended ? 'the push ended before it was held' : undefined));
  await srv.kill();
  log.release();
  const first = await done;
  await srv.start();
  assert.ok(log.count('push:object') < total, `the push stored all ${total} objects with its server gone`);
  console.log(`[sync/fault-s3rver] server killed after object ${k} of ${total}; the push stored ${log.count('push:object')} in all`);
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

/** Every file s3rver keeps for `key` (an object's body and its metadata), found in its folder. */
function serverFilesOf(key: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (f.includes(key)) found.push(f);
    }
  };
  walk(srv.dir);
  return found;
}

test('a key a killed server left unreadable (HTTP 500 on its HEAD) is written over by the push that had it in flight; any other such key fails the push, named', async () => {
  const dir = tmpDir('snappy-torn-');
  const cfg = path.join(dir, 'snappy.config.json');
  writeFileSync(cfg, JSON.stringify({ builtins: ['sync'], sync: { retries: 0 } }));
  const m = machine({ id: 'k2', key: 'torn-tenant-0123456789abcdef', remote: 's3://snappy/t', env: s3Env(srv), dir, config: cfg });
  writeTree(m.state, { 'skills/a.md': '# a v1\n', 'skills/b.md': '# b v1\n' });
  const first = await m.json(['run', 'push'], s3Env(srv));
  assert.is(first.res.code, 0, first.res.stderr);
  // Both pages change; the server's copies of both are left torn, as a kill mid-write leaves them.
  writeTree(m.state, { 'skills/a.md': '# a v2\n', 'skills/b.md': '# b v2\n' });
  const tear = (skill: string) => {
    const files = serverFilesOf(`/skills/${skill}.md`);
    assert.ok(files.length > 0, `s3rver keeps no file for skills/${skill}.md: ${files}`);
    for (const f of files) if (f.endsWith('.json')) writeFileSync(f, readFileSync(f, 'utf8').slice(0, 5));
  };
  tear('a');
  tear('b');
  // The last push had a's key in flight (it was writing it when the server died): the manifest says so.
  const manifestDir = path.join(m.state, '.snappy', 'sync');
  const manifestFile = path.join(manifestDir, readdirSync(manifestDir)[0]!);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: Record<string, { key: string }>; inflight?: Record<string, 1> };
  const keyA = manifest.files['skills/a.md']!.key;
  const keyB = manifest.files['skills/b.md']!.key;
  writeFileSync(manifestFile, JSON.stringify({ ...manifest, inflight: { [keyA]: 1 } }));
  const rerun = await m.json(['run', 'push'], s3Env(srv));
  assert.is(rerun.res.code, 1, `the push wrote over a key it did not have in flight: ${rerun.res.stderr}`);
  assert.match(rerun.res.stderr, keyB);
  assert.not.match(rerun.res.stderr, keyA);
  const s3 = new S3BlobStore({ bucket: 'snappy', prefix: 't/', endpoint: srv.endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' });
  try {
    assert.is(new TextDecoder().decode((await s3.get(keyA))!), '# a v2\n', 'the torn copy of the key in flight was written over');
  } finally {
    s3.destroy();
  }
});

test.run();
