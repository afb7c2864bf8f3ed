// --quiet runs from cron print only warnings and errors of their own: not the AWS SDK's notice
// that it will drop the Node version it runs on (emitted on Node < 22 when an S3 client starts).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.ts';
import { startS3rver, type S3Server } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';

let srv: S3Server;
test.before(async () => {
  srv = await startS3rver(['snappy']);
});
test.after(async () => {
  await srv?.stop();
});

const SDK_NOTICE = /NodeVersionSupportWarning/;
const oldNode = Number(process.versions.node.split('.')[0]) < 22;

function project(): { state: string; env: Record<string, string | undefined> } {
  const dir = tmpDir('snappy-quiet-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  writeFileSync(path.join(state, 'skills', 'a.md'), '---\nname: a\n---\nA.\n');
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));
  const env = { ...srv.env, AWS_ENDPOINT_URL: srv.endpoint, SNAPPY_MACHINE_ID: 'q1', SNAPPY_MASTER_KEY: 'quiet-tenant-key-Xr4Tq9Lm2Vb7Wn3Yc8Pz', SNAPPY_CONFIG: config, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined };
  return { state, env };
}

test(`a --quiet push to s3:// prints nothing at all${oldNode ? '; without --quiet this Node gets the SDK\'s notice' : ''}`, async () => {
  const p = project();
  const quiet = await runCli(['run', 'push', '--quiet', '--state', p.state, '--remote', 's3://snappy/q'], { env: p.env });
  assert.is(quiet.code, 0, quiet.stderr);
  assert.is(quiet.stdout, '');
  assert.is(quiet.stderr, '', 'a quiet run said something');
  const loud = await runCli(['run', 'push', '--state', p.state, '--remote', 's3://snappy/q'], { env: p.env });
  assert.is(loud.code, 0, loud.stderr);
  // The control: on Node 20 the notice is there to be suppressed; from Node 22 on the SDK has none.
  assert.is(SDK_NOTICE.test(loud.stderr), oldNode, loud.stderr);
  // A user's own choice stands, quiet or not.
  const chosen = await runCli(['run', 'push', '-q', '--state', p.state, '--remote', 's3://snappy/q'], { env: { ...p.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' } });
  assert.is(chosen.code, 0, chosen.stderr);
  assert.is(SDK_NOTICE.test(chosen.stderr), oldNode);
});

test.run();
