// `snappy init` as a user runs it: the real CLI in fresh folders, then the project it made put
// to work (eval, push --auto, status, a wrangler dry-run deploy of its Worker config).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tenantIdOf } from '../../domain/hash.ts';
import { keyStrength } from '../../domain/key-strength.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { npxWrangler } from '../deploy/wrangler.ts';

const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name as string;
const env = { SNAPPY_MACHINE_ID: 'm1' };

/** Every file under `dir` (node_modules aside) with a hash of its bytes. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    if (rel.split(path.sep)[0] === 'node_modules') continue;
    const p = path.join(dir, rel);
    const st = statSync(p);
    out[rel] = st.isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** Installs this checkout into a project as `npm install <path>` does: a link in node_modules. */
function install(dir: string): void {
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, path.join(dir, 'node_modules', PKG), 'dir');
}

test('init in a new folder: a typed config, the state layout, a master key shown once and kept out of every tracked file, the Worker config, .gitignore', async () => {
  const dir = path.join(tmpDir('snappy-init-'), 'my-fleet');
  const r = await runCli(['init', dir, '--json'], { env });
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, true);
  assert.is(out.changed, true);
  const config = readFileSync(path.join(dir, 'snappy.config.ts'), 'utf8');
  assert.match(config, `import { defineConfig } from '${PKG}';`);
  assert.match(config, 'export default defineConfig({');
  for (const d of ['skills', 'log', 'log/regen-queue', 'ready', 'staging', 'canonical', '.snappy']) assert.ok(statSync(path.join(dir, 'state', d)).isDirectory(), d);
  assert.match(readFileSync(path.join(dir, 'state', 'skills', 'example.md'), 'utf8'), /^---\nname: example\n/);

  const key = out.masterKey.key as string;
  assert.ok(keyStrength(key).strong, 'the key is strong');
  assert.is(out.masterKey.source, 'created');
  assert.is(out.masterKey.tenant, await tenantIdOf(key));
  const keyFile = path.join(dir, 'state', '.snappy', 'master-key');
  assert.is(readFileSync(keyFile, 'utf8'), `${key}\n`);
  assert.is(statSync(keyFile).mode & 0o777, 0o600);
  for (const [rel] of Object.entries(tree(dir))) {
    const p = path.join(dir, rel);
    if (p === keyFile || statSync(p).isDirectory()) continue;
    assert.not.ok(readFileSync(p, 'utf8').includes(key), `the master key is written into ${rel}`);
  }

  const ignore = readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
  for (const l of ['state/.snappy/', 'state/log/', 'state/ready/', '.snappy-remote/', '.dev.vars', '.wrangler/', 'dist/']) assert.ok(ignore.includes(l), `.gitignore lacks ${l}`);
  const wrangler = readFileSync(path.join(dir, 'wrangler.toml'), 'utf8');
  assert.match(wrangler, 'name = "my-fleet"');
  assert.match(wrangler, 'crons = ["* * * * *"]');
  assert.match(wrangler, `command = "node ${path.join(ROOT, 'worker', 'build.mjs')} --outfile dist/worker.js"`);
  const token = /^OPS_TOKEN=(.+)$/m.exec(readFileSync(path.join(dir, '.dev.vars'), 'utf8'))?.[1] ?? '';
  assert.ok(token.length >= 32, 'a local ops token of at least 32 characters');
  assert.match(out.notes.join('\n'), `imports '${PKG}', which does not resolve`);

  // The human output shows the key once, and says how to keep it.
  const dir2 = path.join(tmpDir('snappy-init-'), 'p');
  const h = await runCli(['init', dir2], { env });
  assert.is(h.code, 0, h.stderr);
  const key2 = readFileSync(path.join(dir2, 'state', '.snappy', 'master-key'), 'utf8').trim();
  assert.is(h.stdout.split(key2).length - 1, 1, 'the key is printed exactly once');
  assert.match(h.stdout, 'shown this once');
  assert.match(h.stdout, 'password manager');
  assert.not.ok(key2 === key, 'every init makes its own key');
});

test('run twice, init changes nothing and says so; the key is not shown again', async () => {
  const dir = tmpDir('snappy-init-');
  assert.is((await runCli(['init', dir], { env })).code, 0);
  const before = tree(dir);
  const key = readFileSync(path.join(dir, 'state', '.snappy', 'master-key'), 'utf8').trim();
  const again = await runCli(['init', dir], { env });
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, 'nothing to do, everything is in place');
  assert.not.ok(again.stdout.includes(key), 'the key is shown only when it is made');
  assert.match(again.stdout, `tenant ${await tenantIdOf(key)}`);
  assert.equal(tree(dir), before);
  const json = JSON.parse((await runCli(['init', dir, '--json'], { env })).stdout);
  assert.is(json.changed, false);
  assert.ok(json.steps.every((s: { action: string }) => s.action === 'keep'));
  assert.is(json.masterKey.key, undefined);
  assert.equal(tree(dir), before);
});

test('init never overwrites: a config, wrangler config, .dev.vars and pages of the user stay as they are; .gitignore only gains its missing lines', async () => {
  const dir = tmpDir('snappy-init-');
  const mine = {
    'snappy.config.json': '{ "machineId": "mine" }\n',
    'wrangler.jsonc': '{ "name": "mine" }\n',
    '.dev.vars': 'OPS_TOKEN=mine\n',
    'state/skills/triage.md': '---\nname: triage\n---\nMine.\n',
  };
  for (const [rel, text] of Object.entries(mine)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  writeFileSync(path.join(dir, '.gitignore'), 'node_modules\n/state/.snappy\ndist/');
  const r = await runCli(['init', '--json'], { cwd: dir, env });
  assert.is(r.code, 0, r.stderr);
  for (const [rel, text] of Object.entries(mine)) assert.is(readFileSync(path.join(dir, rel), 'utf8'), text, `${rel} was changed`);
  assert.not.ok(existsSync(path.join(dir, 'snappy.config.ts')), 'a second config next to the user\'s');
  assert.not.ok(existsSync(path.join(dir, 'wrangler.toml')));
  assert.not.ok(existsSync(path.join(dir, 'state', 'skills', 'example.md')), 'no example page beside real pages');
  const ignore = readFileSync(path.join(dir, '.gitignore'), 'utf8');
  assert.ok(ignore.startsWith('node_modules\n/state/.snappy\ndist/\n'), 'the user\'s lines stay first, as they were');
  const lines = ignore.split('\n');
  assert.not.ok(lines.includes('state/.snappy/') || lines.filter((l) => l === 'dist/').length > 1, 'an entry already there (in another spelling) is not added again');
  assert.ok(lines.includes('state/log/') && lines.includes('.dev.vars'));
  const out = JSON.parse(r.stdout);
  assert.equal(out.gitignoreAdded, ['.snappy-remote/', 'state/ready/', 'state/staging/', 'state/canonical/', 'state/log/', 'state/skills/*.md.*', '.wrangler/', '.dev.vars']);
});

test('the project init made works: eval and push --auto with the kept key and no SNAPPY_MASTER_KEY, status names the tenant, its Worker config builds', async () => {
  const dir = path.join(tmpDir('snappy-init-'), 'fleet');
  const made = JSON.parse((await runCli(['init', dir, '--json'], { env })).stdout);
  install(dir);
  for (let i = 0; i < 3; i++) {
    const e = await runCli(['eval', '--skill', 'example', '--score', '0.4', '--run-id', `r${i}`], { cwd: dir, env });
    assert.is(e.code, 0, e.stderr);
    assert.not.match(e.stdout + e.stderr, 'migrated from state version', 'a state dir init set up is new, not one of an older release');
  }
  const push = await runCli(['run', 'push', '--auto', '--json'], { cwd: dir, env });
  assert.is(push.code, 0, push.stderr);
  assert.not.match(push.stdout + push.stderr, 'migrated from state version', 'a state dir init set up is new, not one of an older release');
  const report = JSON.parse(push.stdout);
  assert.equal(report.skipped ?? [], [], 'nothing was skipped for want of a key');
  const agg = readFileSync(path.join(dir, 'state', 'log', 'evals.aggregate.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(agg.length, 3);
  assert.ok(agg.every((row) => row.tenant === made.masterKey.tenant), 'the rows carry the tenant of the kept key');
  assert.ok(existsSync(path.join(dir, '.snappy-remote')), 'the embedded default remote beside the state');
  const status = JSON.parse((await runCli(['status', '--json'], { cwd: dir, env })).stdout);
  assert.is(status.tenant, made.masterKey.tenant);
  // SNAPPY_MASTER_KEY, when set, beats the file; set empty, it means no key.
  const other = JSON.parse((await runCli(['status', '--json'], { cwd: dir, env: { ...env, SNAPPY_MASTER_KEY: 'another-key-of-at-least-128-bits-7Qm2Xv9Rt4Wy1Bn8' } })).stdout);
  assert.is(other.tenant, await tenantIdOf('another-key-of-at-least-128-bits-7Qm2Xv9Rt4Wy1Bn8'));
  const none = JSON.parse((await runCli(['status', '--json'], { cwd: dir, env: { ...env, SNAPPY_MASTER_KEY: '' } })).stdout);
  assert.is(none.tenant, null);
  chmodSync(path.join(dir, 'state', '.snappy', 'master-key'), 0o644);
  const loose = JSON.parse((await runCli(['status', '--json'], { cwd: dir, env })).stdout);
  assert.ok(loose.warnings.some((w: string) => /can be read by other users \(mode 644\): chmod 600 it/.test(w)), 'a key file others can read is named');

  const dry = await npxWrangler(['deploy', '--dry-run', '--outdir', tmpDir('snappy-init-dry-')], dir);
  assert.is(dry.code, 0, `${dry.stdout}\n${dry.stderr}`);
  assert.match(dry.stdout, 'env.SNAPPY_BUCKET (fleet)');
  assert.match(dry.stdout, '--dry-run: exiting now.');
});

test('the advice for a missing --state dir is true: init --state makes it, and the command then runs', async () => {
  const dir = tmpDir('snappy-init-');
  const state = path.join(dir, 'elsewhere', 'state');
  const miss = await runCli(['status', '--state', state], { cwd: dir, env });
  assert.is(miss.code, 2);
  const advice = /set it up with `(snappy init[^`]*)`/.exec(miss.stderr)?.[1];
  assert.is(advice, `snappy init --state ${JSON.stringify(state)}`);
  const init = await runCli(['init', '--state', state], { cwd: dir, env });
  assert.is(init.code, 0, init.stderr);
  assert.ok(existsSync(path.join(state, '.snappy', 'master-key')));
  assert.ok(existsSync(path.join(state, 'skills', 'example.md')));
  const ignore = readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
  assert.ok(ignore.includes('elsewhere/state/.snappy/') && ignore.includes('elsewhere/.snappy-remote/'), 'the ignore lines follow the state dir');
  install(dir);
  const ok = await runCli(['status', '--state', state, '--json'], { cwd: dir, env });
  assert.is(ok.code, 0, ok.stderr);
});

test('with SNAPPY_MASTER_KEY set, init writes no key file and names that key\'s tenant; --dry-run writes nothing', async () => {
  const dir = tmpDir('snappy-init-');
  const key = 'tenant-key-from-the-vault-Zq3Lm8Xr2Tv6Wn1Yb9';
  const r = await runCli(['init', '--json'], { cwd: dir, env: { ...env, SNAPPY_MASTER_KEY: key } });
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.masterKey, { source: 'env', tenant: await tenantIdOf(key) });
  assert.not.ok(existsSync(path.join(dir, 'state', '.snappy', 'master-key')));

  const fresh = path.join(tmpDir('snappy-init-'), 'p');
  const dry = await runCli(['init', fresh, '--dry-run'], { env });
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would create\s+snappy.config.ts/);
  assert.match(dry.stdout, /would create\s+state\/.snappy\/master-key/);
  assert.not.ok(existsSync(fresh), 'a dry run creates nothing');
});

test('bad input: a project folder that is a file, --config or --remote, an unknown flag: exit 2 before anything is written; --help teaches', async () => {
  const dir = tmpDir('snappy-init-');
  writeFileSync(path.join(dir, 'file'), 'x');
  const file = await runCli(['init', path.join(dir, 'file'), '--json'], { env });
  assert.is(file.code, 2);
  assert.match(JSON.parse(file.stdout).error.message, `the project folder ${path.join(dir, 'file')} exists and is not a folder`);
  for (const args of [['--config', 'x.ts'], ['--remote', 'file:///x'], ['--dryrun']]) {
    const r = await runCli(['init', path.join(dir, 'p'), ...args, '--json'], { env });
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(JSON.parse(r.stdout).error.code, 'E_USAGE');
  }
  assert.match((await runCli(['init', path.join(dir, 'p'), '--dryrun'], { env })).stderr, 'did you mean --dry-run?');
  assert.not.ok(existsSync(path.join(dir, 'p')), 'a refused init writes nothing');
  const help = await runCli(['init', '--help'], { env });
  assert.is(help.code, 0);
  for (const s of ['snappy.config.ts', 'state/', 'master key', 'wrangler.toml', '.gitignore', 'Nothing that exists is changed', '--dry-run']) assert.match(help.stdout, s);
  assert.match((await runCli(['--help'], { env })).stdout, /init \[dir\]/);
});

test.run();
