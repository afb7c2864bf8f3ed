import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

// A module-resolution hook that reports every @aws-sdk module the process resolves.
const dir = tmpDir('snappy-lazy-');
const hooks = path.join(dir, 'hooks.mjs');
const register = path.join(dir, 'register.mjs');
writeFileSync(hooks, `export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); if (r.url.includes('@aws-sdk')) process.stderr.write('LOADED ' + spec + '\\n'); return r; }\n`);
writeFileSync(register, `import { register } from 'node:module'; register(${JSON.stringify(`file://${hooks}`)});\n`);
const env = { NODE_OPTIONS: `--import ${register}`, SNAPPY_MACHINE_ID: 'lazy', SNAPPY_MASTER_KEY: 'lazy-key' };
const config = path.join(dir, 'c.json');
writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));

test('--version and a file:// push never load the AWS SDK; an s3:// remote does', async () => {
  const v = await runCli(['--version'], { env });
  assert.is(v.code, 0, v.stderr);
  assert.not.match(v.stderr, /LOADED/);
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const file = await runCli(['run', 'push', '--state', state, '--config', config, '--remote', `file://${path.join(dir, 'r')}`], { env });
  assert.is(file.code, 0, file.stderr);
  assert.not.match(file.stderr, /LOADED/);
  // The control: the hook does see the SDK when an s3:// remote is opened (unreachable here, so it fails).
  const s3 = await runCli(['run', 'push', '--state', state, '--config', config, '--remote', 's3://bucket-x/p', '--dry-run'], { env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
  assert.match(s3.stderr, /LOADED @aws-sdk\/client-s3/);
});

test.run();
