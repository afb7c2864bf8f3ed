import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startS3rver, type S3Server } from '../../helpers/s3rver.ts';
import { countingProxy } from './counting-proxy.ts';
import { machine, tenantOf, writeTree, revOf } from './fixtures.ts';
import { bucketObjects, s3Env } from './s3-objects.ts';

let srv: S3Server;
test.before(async () => {
  srv = await startS3rver(['snappy']);
});
test.after(async () => {
  await srv?.stop();
});

test('push and pull through s3:// (endpoint and keys from AWS_* variables) under a prefix', async () => {
  const one = machine({ id: 'm1', key: 's3-tenant', remote: 's3://snappy/team/a', env: s3Env(srv) });
  const two = machine({ id: 'm2', key: 's3-tenant', remote: 's3://snappy/team/a', env: s3Env(srv) });
  const rev = revOf('staged\n');
  const files: Record<string, string> = { 'log/regen-queue/alpha.m1.md': 'brief\n', [`staging/alpha/${rev}/alpha.md`]: 'staged\n' };
  for (let i = 0; i < 30; i++) files[`skills/s${i}.md`] = `page ${i}\n`;
  writeTree(one.state, files);
  const pushed = await one.json(['run', 'push']);
  assert.is(pushed.res.code, 0, pushed.res.stderr);
  assert.is(pushed.out.reports.push.files, 32);
  const objects = await bucketObjects(srv);
  const t = await tenantOf('s3-tenant');
  assert.is(objects[`team/a/snappy-tenants/${t}/skills/s7.md`], 'page 7\n');
  assert.is(objects[`team/a/snappy-os-staging/alpha/${rev}/alpha.md`], 'staged\n');
  const pulled = await two.json(['run', 'pull']);
  assert.is(pulled.res.code, 0, pulled.res.stderr);
  assert.is(readFileSync(path.join(two.state, 'skills/s29.md'), 'utf8'), 'page 29\n');
  assert.is(pulled.out.reports.pull.files, 32);
});

test('a push with nothing changed makes no request at all to the remote; an edit makes only its own', async () => {
  const proxy = await countingProxy(srv.endpoint);
  try {
    const m = machine({ id: 'quiet', key: 'quiet-tenant', remote: 's3://snappy/q', env: { ...s3Env(srv), AWS_ENDPOINT_URL: proxy.endpoint } });
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`skills/p${i}.md`] = `p${i}\n`;
    writeTree(m.state, files);
    assert.is((await m.run(['run', 'push'])).code, 0);
    assert.ok(proxy.requests.length >= 50, `first push made ${proxy.requests.length} requests`);
    proxy.requests.length = 0;
    const noop = await m.json(['run', 'push']);
    assert.is(noop.res.code, 0, noop.res.stderr);
    assert.equal(proxy.requests, [], 'a no-op push talked to the remote');
    writeFileSync(path.join(m.state, 'skills/p3.md'), 'p3 edited\n');
    assert.is((await m.run(['run', 'push'])).code, 0);
    // GET and PUT of the page's history (the version it replaces joins it), then HEAD (the
    // ifMatch check s3rver needs), PUT, HEAD (the new etag).
    assert.equal(proxy.requests.map((r) => r.split(' ')[0]), ['GET', 'PUT', 'HEAD', 'PUT', 'HEAD'], proxy.requests.join('\n'));
    assert.match(proxy.requests[1]!, '/history/p3.json');
  } finally {
    await proxy.close();
  }
});

test('with the S3 server unreachable, push fails with exit 1 naming the objects, and records nothing it did not send', async () => {
  const m = machine({ id: 'down', key: 'down-tenant', remote: 's3://snappy/down', env: { ...s3Env(srv), AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
  writeTree(m.state, { 'skills/x.md': 'x\n' });
  const cfg = path.join(path.dirname(m.state), 'snappy.config.json');
  writeFileSync(cfg, JSON.stringify({ builtins: ['sync'], sync: { retries: 1, retryBaseMs: 10 } }));
  const res = await m.run(['run', 'push']);
  assert.is(res.code, 1);
  assert.match(res.stderr, /skills\/x\.md -> snappy-tenants\/[0-9a-f]{12}\/skills\/x\.md/);
  assert.match(res.stderr, /S3 head of "snappy-tenants\/[0-9a-f]{12}\/skills\/x\.md" in s3:\/\/snappy\/down failed/);
});

test.run();
