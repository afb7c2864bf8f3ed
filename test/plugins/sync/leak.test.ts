import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startS3rver, type S3Server } from '../../helpers/s3rver.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, writeTree } from './fixtures.ts';
import { bucketObjects, s3Env } from './s3-objects.ts';

const CANARY = 'CANARY-7f3e9b1c-private';
let srv: S3Server;

test.before(async () => {
  srv = await startS3rver(['snappy']);
});
test.after(async () => {
  await srv?.stop();
});

/** A plain-object third-party plugin that tries to push the raw log and other hard-denied files. */
const SMUGGLER = `
export default {
  name: 'smuggler',
  apply(hooks, ctx) {
    hooks.beforePush.tapPromise({ name: 'smuggler', stage: 1000 }, async (plan) => ({
      entries: [
        ...plan.entries,
        { path: 'log/evals.ndjson', key: 'smuggled/evals.ndjson', kind: 'extra' },
        { path: './log/evals.ndjson', key: 'smuggled/evals2.ndjson', kind: 'extra' },
        { path: 'log//evals.ndjson', key: 'smuggled/evals3.ndjson', kind: 'extra' },
        { path: 'skills/../log/evals.ndjson', key: 'smuggled/evals4.ndjson', kind: 'extra' },
        { path: '.snappy/lock', key: 'smuggled/lock', kind: 'extra' },
        { path: 'ready/ok.ready', key: 'smuggled/ready', kind: 'extra' },
        { path: '../outside/secret.md', key: 'smuggled/outside', kind: 'extra' },
        { path: 'skills/ok.md', key: '../escape', kind: 'extra' },
      ],
    }));
  },
};
`;

const VETO = `
import { definePlugin } from ${JSON.stringify(path.resolve('core/index.ts'))};
export default definePlugin({
  name: 'gatekeeper',
  apply(hooks) {
    hooks.beforePush.tapPromise({ name: 'gatekeeper' }, async (plan, ctx) => {
      if (plan.entries.some((e) => e.path.includes('forbidden'))) ctx.veto('page "forbidden" must not be shared');
      return plan;
    });
  },
});
`;

test('nothing private reaches the bucket: allow-everything config, symlinks, hard links and a plugin adding the log', async () => {
  const dir = tmpDir('snappy-leak-');
  const outside = path.join(dir, 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(outside, 'secret.md'), `outside ${CANARY}\n`);
  writeFileSync(path.join(dir, 'smuggler.mjs'), SMUGGLER);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'], sync: { allow: ['**'], deny: [] }, plugins: ['./smuggler.mjs'] }));
  const m = machine({ id: 'leaky', key: 'leak-tenant', remote: 's3://snappy/fleet', config, dir, env: s3Env(srv) });
  writeTree(m.state, {
    'skills/ok.md': 'an ordinary page\n',
    'notes/plain.md': 'an ordinary note\n',
    'log/evals.ndjson': `{"ts":1,"skill":"ok","score":0.9,"run_id":"r1","ok":true,"private_prompt":"${CANARY}","user":"${CANARY}"}\n`,
    'ready/ok.ready': `{"why":"${CANARY}"}`,
    '.snappy/private.json': `{"x":"${CANARY}"}`,
  });
  symlinkSync('../log/evals.ndjson', path.join(m.state, 'skills/leak.md'));
  symlinkSync('../log', path.join(m.state, 'notes/logdir'));
  symlinkSync(path.join(outside, 'secret.md'), path.join(m.state, 'skills/out.md'));
  symlinkSync(outside, path.join(m.state, 'outdir'));
  symlinkSync('../../ready/ok.ready', path.join(m.state, 'log/regen-queue-link.md'));
  linkSync(path.join(m.state, 'log/evals.ndjson'), path.join(m.state, 'skills/hard.md'));

  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  const objects = await bucketObjects(srv);
  for (const [key, body] of Object.entries(objects)) assert.not.ok(body.includes(CANARY), `the canary reached ${key}`);
  const keys = Object.keys(objects);
  assert.ok(keys.some((k) => k.endsWith('/skills/ok.md')), `ordinary page missing: ${keys}`);
  assert.ok(keys.some((k) => k.endsWith('/files/notes/plain.md')), `ordinary note missing: ${keys}`);
  assert.ok(!keys.some((k) => k.includes('smuggled') || k.includes('escape')), `smuggled keys: ${keys}`);
  const refused = out.reports.push.refused.map((r: { path: string }) => r.path).sort();
  for (const p of ['skills/leak.md', 'skills/out.md', 'skills/hard.md', 'log/evals.ndjson', '.snappy/lock', 'ready/ok.ready']) {
    assert.ok(refused.includes(p), `${p} not reported as refused: ${refused}`);
  }
  assert.match(res.stderr, /skills\/out\.md is a symlink that leads outside the state dir/);
  assert.match(res.stderr, /log\/evals\.ndjson is under the hard deny/);
});

test('a plugin that vetoes stops the push: exit 1, the message names the plugin and its reason, nothing sent', async () => {
  const dir = tmpDir('snappy-veto-');
  writeFileSync(path.join(dir, 'gatekeeper.mjs'), VETO);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'], plugins: ['./gatekeeper.mjs'] }));
  const m = machine({ id: 'v1', key: 'veto-tenant', remote: 's3://snappy/veto', config, dir, env: s3Env(srv) });
  writeTree(m.state, { 'skills/forbidden.md': 'no\n', 'skills/fine.md': 'yes\n' });
  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 1);
  assert.match(res.stderr, /gatekeeper/);
  assert.match(res.stderr, /page "forbidden" must not be shared/);
  assert.is(out.error.plugin, 'gatekeeper');
  assert.is(out.error.code, 'E_VETO');
  const keys = Object.keys(await bucketObjects(srv));
  assert.ok(!keys.some((k) => k.startsWith('veto/')), `objects sent despite the veto: ${keys}`);
});

test.run();
