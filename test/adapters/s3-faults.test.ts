// S3 that never hangs and says why, through the real CLI: a server that accepts connections
// and never answers, a real S3 server (s3rver) refusing unknown keys, an endpoint from an AWS
// config file, and a profile that does not exist.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startS3rver, type S3Server } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { machine, writeTree } from '../plugins/sync/fixtures.ts';
import { bucketObjects } from '../plugins/sync/s3-objects.ts';

let srv: S3Server;
let silent: net.Server;
let silentPort = 0;
const sockets = new Set<net.Socket>();
let connections = 0;

test.before(async () => {
  srv = await startS3rver(['snappy']);
  // Accepts every connection, reads what it is sent, and never answers.
  silent = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});

test.after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await srv?.stop();
});

/** No AWS settings from the machine running the tests: each test gives its own. */
const CLEAN = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_S3: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_CONFIG_FILE: undefined, AWS_SHARED_CREDENTIALS_FILE: undefined };

function syncConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'snappy.config.json');
  writeFileSync(file, JSON.stringify({ builtins: ['sync'], sync: { retries: 0 }, ...extra }));
  return file;
}

test('a server that accepts connections and never answers: pull and push fail, naming the operation, the endpoint and the timeout (config s3)', async () => {
  const dir = tmpDir('snappy-s3-silent-');
  const endpoint = `http://127.0.0.1:${silentPort}`;
  const config = syncConfig(dir, { s3: { endpoint, connectTimeoutMs: 1000, timeoutMs: 1000 } });
  const m = machine({ id: 'quiet', key: 'silent-tenant', remote: 's3://snappy/t', config, dir, env: { ...CLEAN, AWS_ACCESS_KEY_ID: 'K', AWS_SECRET_ACCESS_KEY: 'S' } });
  writeTree(m.state, { 'skills/a.md': 'a\n' });
  const before = connections;
  const pull = await m.run(['run', 'pull']);
  assert.is(pull.code, 1, `pull: ${pull.stdout}\n${pull.stderr}`);
  assert.match(pull.stderr, new RegExp(`S3 (list|get|head) of "[^"]*" in s3://snappy/t failed: no answer from http://127\\.0\\.0\\.1:${silentPort} within 1000 ms \\(s3\\.timeoutMs\\), 3 attempt\\(s\\)`), pull.stderr);
  const push = await m.run(['run', 'push']);
  assert.is(push.code, 1, `push: ${push.stdout}\n${push.stderr}`);
  assert.match(push.stderr, new RegExp(`S3 (head|put|list) of "[^"]*" in s3://snappy/t failed: no answer from http://127\\.0\\.0\\.1:${silentPort} within 1000 ms \\(s3\\.timeoutMs\\)`), push.stderr);
  assert.ok(connections > before, 'the requests reached the silent server');
});

test('a 403 (s3rver refusing an unknown access key) names the keys and the likely causes, on HEAD as on other requests', async () => {
  const dir = tmpDir('snappy-s3-403-');
  const config = syncConfig(dir);
  const m = machine({ id: 'denied', key: 'denied-tenant', remote: 's3://snappy/d', config, dir, env: { ...CLEAN, AWS_ENDPOINT_URL: srv.endpoint, AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'S3RVER' } });
  writeTree(m.state, { 'skills/a.md': 'a\n' });
  const push = await m.run(['run', 'push']);
  assert.is(push.code, 1, push.stderr);
  // The push checks the remote object first with a HEAD, whose 403 carries no body.
  assert.match(push.stderr, `S3 head of "`);
  assert.match(push.stderr, `refused it (HTTP 403): wrong keys (access key NOT-A-KEY (AWS_ACCESS_KEY_ID)), a clock off by more than 15 minutes, or a bucket or key policy of snappy that refuses it`);
  assert.not.match(push.stderr, 'UnknownError');
  const pull = await m.run(['run', 'pull']);
  assert.is(pull.code, 1, pull.stderr);
  assert.match(pull.stderr, `refused it (HTTP 403, InvalidAccessKeyId): the server does not know access key NOT-A-KEY (AWS_ACCESS_KEY_ID)`);
});

test('an endpoint from an AWS config file (a host name, endpoint_url in the profile) is used with path style, with the profile\'s keys', async () => {
  const dir = tmpDir('snappy-s3-profile-');
  const awsConfig = path.join(dir, 'aws-config');
  // `localhost`, not an address: with the bucket in the host name it would be snappy.localhost.
  writeFileSync(awsConfig, `[profile fleet]\nregion = us-east-1\nendpoint_url = http://localhost:${srv.port}\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n`);
  const env = { ...CLEAN, AWS_CONFIG_FILE: awsConfig, AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'), AWS_PROFILE: 'fleet' };
  const one = machine({ id: 'p1', key: 'profile-tenant', remote: 's3://snappy/prof', config: syncConfig(dir), dir, env });
  writeTree(one.state, { 'skills/paged.md': 'through the profile\n' });
  const push = await one.run(['run', 'push']);
  assert.is(push.code, 0, push.stderr);
  const objects = await bucketObjects(srv);
  assert.ok(Object.entries(objects).some(([k, v]) => k.startsWith('prof/snappy-tenants/') && k.endsWith('/skills/paged.md') && v === 'through the profile\n'), Object.keys(objects).join('\n'));
  const dir2 = tmpDir('snappy-s3-profile-');
  const two = machine({ id: 'p2', key: 'profile-tenant', remote: 's3://snappy/prof', config: syncConfig(dir2), dir: dir2, env });
  const pull = await two.run(['run', 'pull']);
  assert.is(pull.code, 0, pull.stderr);
  assert.is(readFileSync(path.join(two.state, 'skills', 'paged.md'), 'utf8'), 'through the profile\n');
});

test('the same through a [services] section of the AWS config file', async () => {
  const dir = tmpDir('snappy-s3-services-');
  const awsConfig = path.join(dir, 'aws-config');
  writeFileSync(awsConfig, `[default]\nservices = local-s3\n\n[services local-s3]\ns3 =\n  endpoint_url = http://localhost:${srv.port}\n`);
  const env = { ...CLEAN, AWS_CONFIG_FILE: awsConfig, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const m = machine({ id: 's1', key: 'services-tenant', remote: 's3://snappy/svc', config: syncConfig(dir), dir, env });
  writeTree(m.state, { 'skills/svc.md': 'services\n' });
  const push = await m.run(['run', 'push']);
  assert.is(push.code, 0, push.stderr);
  assert.ok(Object.keys(await bucketObjects(srv)).some((k) => k.startsWith('svc/') && k.endsWith('/skills/svc.md')));
});

test('AWS_PROFILE naming a profile that does not exist is a config error (exit 2) naming it and the files', async () => {
  const dir = tmpDir('snappy-s3-noprofile-');
  const awsConfig = path.join(dir, 'aws-config');
  writeFileSync(awsConfig, `[profile other]\nregion = us-east-1\n`);
  const m = machine({ id: 'np', key: 'np-tenant', remote: 's3://snappy/np', config: syncConfig(dir), dir, env: { ...CLEAN, AWS_CONFIG_FILE: awsConfig, AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'creds'), AWS_PROFILE: 'fleet-typo' } });
  writeTree(m.state, { 'skills/a.md': 'a\n' });
  for (const task of ['pull', 'push']) {
    const r = await m.run(['run', task]);
    assert.is(r.code, 2, `${task}: ${r.stderr}`);
    assert.match(r.stderr, `AWS_PROFILE is "fleet-typo", but no such profile exists: ${awsConfig} has no [profile fleet-typo] and ${path.join(dir, 'creds')} has no [fleet-typo] (no such file)`);
  }
});

test.run();
