import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startS3rver, type S3Server } from '../../helpers/s3rver.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, tenantOf, writeTree } from './fixtures.ts';
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
import { definePlugin } from 'snappy-os';
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

/** Every name logrotate, backup tools, editors and people give copies of the raw log. */
const ROTATED = [
  'log/evals.ndjson.1', 'log/evals.ndjson.2.gz', 'log/evals.ndjson.gz', 'log/evals.ndjson-20261130', 'log/evals.ndjson.bak', 'log/evals.ndjson.old',
  'log/evals.ndjson~', 'log/evals.ndjson.orig', 'log/evals.ndjson.save', 'log/evals-20261130.ndjson', 'log/.evals.ndjson.swp', 'backup/evals.ndjson.3',
];

test('rotated and backup copies of the raw log, and symlinks and hard links to them, never leave with allow: [**]', async () => {
  const dir = tmpDir('snappy-rotated-');
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'], sync: { allow: ['**'], deny: [] } }));
  const m = machine({ id: 'rotator', key: 'rotate-tenant', remote: 's3://snappy/rotated', config, dir, env: s3Env(srv) });
  const row = (i: number) => `{"ts":${i},"skill":"ok","score":0.9,"run_id":"r${i}","ok":true,"private_prompt":"${CANARY} ${i}"}\n`;
  writeTree(m.state, {
    'skills/ok.md': 'an ordinary page\n',
    'log/evals.aggregate.ndjson': '',
    'ready/ok.ready': `{"why":"${CANARY}"}`,
    '.snappy/pid/ok.json': `{"x":"${CANARY}"}`,
    ...Object.fromEntries(ROTATED.map((rel, i) => [rel, row(i)])),
  });
  mkdirSync(path.join(m.state, 'notes'), { recursive: true });
  const links: string[] = [];
  ROTATED.forEach((rel, i) => {
    const sym = `notes/sym-${i}.md`;
    const hard = `notes/hard-${i}.md`;
    symlinkSync(path.relative(path.join(m.state, 'notes'), path.join(m.state, rel)), path.join(m.state, sym));
    linkSync(path.join(m.state, rel), path.join(m.state, hard));
    links.push(sym, hard);
  });
  // Hard links to the other hard-denied files: a marker and controller state.
  linkSync(path.join(m.state, 'ready/ok.ready'), path.join(m.state, 'notes/hard-marker.md'));
  linkSync(path.join(m.state, '.snappy/pid/ok.json'), path.join(m.state, 'notes/hard-pid.md'));
  links.push('notes/hard-marker.md', 'notes/hard-pid.md');
  // A symlinked folder that leads into log/: the rotated copies seen through it.
  symlinkSync('../log', path.join(m.state, 'notes/logdir'));

  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  const objects = await bucketObjects(srv);
  const ours = Object.keys(objects).filter((k) => k.startsWith('rotated/'));
  assert.ok(ours.some((k) => k.endsWith('/skills/ok.md')), `the ordinary page is pushed: ${ours}`);
  for (const [key, body] of Object.entries(objects)) assert.not.ok(body.includes(CANARY), `the canary reached ${key}`);
  assert.not.ok(ours.some((k) => /evals|notes\/(sym|hard|logdir)/.test(k)), `a copy of the raw log or a link to one was pushed: ${ours}`);
  const refused = new Map<string, string>(out.reports.push.refused.map((r: { path: string; reason: string }) => [r.path, r.reason]));
  for (const l of links) assert.ok(refused.has(l), `${l} not reported as refused: ${[...refused.keys()]}`);
  assert.match(refused.get('notes/hard-0.md')!, /hard link to log\/evals\.ndjson\.1 \(hard deny\)/);
  assert.match(refused.get('notes/hard-pid.md')!, /hard link to \.snappy\/pid\/ok\.json/);
  assert.match(refused.get('notes/sym-0.md')!, /symlink to log\/evals\.ndjson\.1, which is denied/);
});

/** A plugin that rewrites plan keys: onto canonical pages, another tenant's keys, the Worker's own. */
const REKEYER = (other: string) => `
export default {
  name: 'rekeyer',
  apply(hooks) {
    hooks.beforePush.tapPromise({ name: 'rekeyer', stage: 1000 }, async (plan) => ({
      entries: [
        ...plan.entries.map((e) =>
          e.path === 'skills/summarize.md' ? { ...e, key: 'snappy-os/skills/summarize/summarize.md' }
          : e.kind === 'aggregate' ? { ...e, key: 'snappy-agg/${other}/' + e.key.split('/').slice(2).join('/') }
          : e.path.startsWith('staging/') ? { ...e, createOnly: false, key: e.key.replace('snappy-os-staging/', 'snappy-os/skills/') }
          : e),
        { path: 'skills/evil.md', key: 'snappy-os/skills/evil/e.md', kind: 'page' },
        { path: 'skills/evil.md', key: 'snappy-tenants/${other}/skills/evil.md', kind: 'page' },
        { path: 'skills/evil.md', key: 'snappy-briefs/${other}/evil.m1.md', kind: 'brief' },
        { path: 'skills/evil.md', key: 'snappy-kv/last_quorum_promotion', kind: 'file' },
        { path: 'skills/evil.md', key: 'snappy-quorum/scan.json', kind: 'file' },
        { path: 'skills/evil.md', key: 'snappy-os/changelog/evil/000000000000.json', kind: 'file' },
        null,
        { path: 'skills/fine.md' },
      ],
    }));
  },
};
`;

test('a beforePush tap that rewrites keys is refused entry by entry, named: no canonical, other-tenant or Worker key is written', async () => {
  const dir = tmpDir('snappy-rekey-');
  const other = 'ffffffffffff';
  writeFileSync(path.join(dir, 'rekeyer.mjs'), REKEYER(other));
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate'], sync: { allow: ['**'] }, plugins: ['./rekeyer.mjs'] }));
  const key = 'rekey-tenant-0123456789abcdefghijklmnop';
  const m = machine({ id: 'rk', key, remote: 's3://snappy/rekey', config, dir, env: s3Env(srv) });
  const tenant = await tenantOf(key);
  writeTree(m.state, {
    'skills/summarize.md': 'summarize, the tenant\'s own page\n',
    'skills/evil.md': 'evil page\n',
    'skills/fine.md': 'a page the tap leaves alone\n',
    'staging/summarize/0123456789ab/summarize.md': 'a staged rev\n',
    'log/evals.ndjson': '{"ts":1,"skill":"summarize","score":0.9,"run_id":"r1","ok":true}\n',
  });
  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  const keys = Object.keys(await bucketObjects(srv)).filter((k) => k.startsWith('rekey/')).map((k) => k.slice('rekey/'.length)).sort();
  assert.equal(keys, [`snappy-tenants/${tenant}/skills/evil.md`, `snappy-tenants/${tenant}/skills/fine.md`], 'only entries with their layout keys are written');
  const refused: { path: string; reason: string }[] = out.reports.push.refused;
  const says = (path: string, badKey: string, goodKey: string) => {
    const r = refused.find((x) => x.path === path && x.reason.includes(JSON.stringify(badKey)));
    assert.ok(r, `${path} -> ${badKey} not refused: ${JSON.stringify(refused)}`);
    assert.ok(r!.reason.includes(goodKey), `the refusal names the layout's key ${goodKey}: ${r!.reason}`);
    assert.ok(res.stderr.includes(`not pushed: ${path} ${r!.reason}`), `stderr names ${path}: ${res.stderr}`);
  };
  says('skills/summarize.md', 'snappy-os/skills/summarize/summarize.md', `snappy-tenants/${tenant}/skills/summarize.md`);
  says('staging/summarize/0123456789ab/summarize.md', 'snappy-os/skills/summarize/0123456789ab/summarize.md', 'snappy-os-staging/summarize/0123456789ab/summarize.md');
  for (const bad of ['snappy-os/skills/evil/e.md', `snappy-tenants/${other}/skills/evil.md`, `snappy-briefs/${other}/evil.m1.md`, 'snappy-kv/last_quorum_promotion', 'snappy-quorum/scan.json', 'snappy-os/changelog/evil/000000000000.json']) {
    says('skills/evil.md', bad, `snappy-tenants/${tenant}/skills/evil.md`);
  }
  assert.ok(refused.some((x) => x.reason === 'is not a plan entry with a path'), 'a null entry is refused, not a crash');
  assert.ok(refused.some((x) => x.path === 'skills/fine.md' && x.reason === 'its plan entry has no key'));
  const agg = refused.find((x) => x.path === 'log/evals.aggregate.ndjson');
  assert.ok(agg && agg.reason.includes(`snappy-agg/${other}/`), `the rewritten aggregate batch is refused: ${JSON.stringify(refused)}`);
  assert.is(out.reports.push.aggregate.skipped, 'refused: a beforePush tap changed its key');
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
