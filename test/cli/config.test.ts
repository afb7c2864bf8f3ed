import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

function project(files: Record<string, string>): string {
  const dir = tmpDir('snappy-config-');
  mkdirSync(path.join(dir, 'state'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const statusJson = async (cwd: string, env: Record<string, string> = {}, extra: string[] = []) => {
  const r = await runCli(['status', '--json', '--state', path.join(cwd, 'state'), ...extra], { cwd, env: { SNAPPY_MACHINE_ID: 'm1', ...env } });
  return r;
};

test('a config with a syntax error exits 2 and names the file', async () => {
  const dir = project({ 'snappy.config.ts': 'export default { machineId: "x", \n' });
  const r = await statusJson(dir);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, path.join(dir, 'snappy.config.ts'));
});

test('an invalid config exits 2 naming the file, the path inside it and what was expected', async () => {
  const dir = project({ 'snappy.config.json': JSON.stringify({ remote: 'ftp://nope', s3: { endpoint: 42 }, machines: { 'bad id!': {} } }) });
  const r = await statusJson(dir);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, path.join(dir, 'snappy.config.json'));
  assert.match(r.stderr, 'at remote: expected file://DIR or s3://BUCKET[/PREFIX]');
  assert.match(r.stderr, 'at s3.endpoint');
  assert.match(r.stderr, 'machines');
});

test('an unknown key in the config is refused by name', async () => {
  const dir = project({ 'snappy.config.json': JSON.stringify({ remtoe: 'file:///x' }) });
  const r = await statusJson(dir);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'at remtoe: unknown key; expected one of: machineId, remote,');
});

test('a sync glob that cannot compile exits 2 naming the list, the index and the reason', async () => {
  const dir = project({ 'snappy.config.json': JSON.stringify({ sync: { allow: ['skills/*.md', 'skills/[ab'] } }) });
  const r = await statusJson(dir);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, 'at sync.allow[1]: not a usable glob: Missing closing: "]"');
});

test('--json on a config error prints exactly one JSON object on stdout', async () => {
  const dir = project({ 'snappy.config.json': '{ not json' });
  const r = await statusJson(dir);
  assert.is(r.code, 2);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.is(out.error.code, 'E_CONFIG');
  assert.match(out.error.message, 'snappy.config.json');
});

test('a .ts config with defineConfig from the package, and its relative TS imports, loads', async () => {
  const dir = project({
    'shared.ts': 'export const remote: string = "file:///tmp/snappy-remote-from-ts";\n',
    'snappy.config.ts': `import { defineConfig } from ${JSON.stringify(path.resolve('core/index.ts'))};\nimport { remote } from './shared.ts';\nexport default defineConfig({ remote });\n`,
  });
  const r = await statusJson(dir);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).remote, 'file:///tmp/snappy-remote-from-ts');
});

test('package.json "snappy" and --config FILE are both honoured; --remote beats config', async () => {
  const dir = project({ 'package.json': JSON.stringify({ name: 'x', snappy: { remote: 'file:///from-package-json' } }), 'other.json': JSON.stringify({ remote: 'file:///from-other' }) });
  assert.is(JSON.parse((await statusJson(dir)).stdout).remote, 'file:///from-package-json');
  assert.is(JSON.parse((await statusJson(dir, {}, ['--config', path.join(dir, 'other.json')])).stdout).remote, 'file:///from-other');
  assert.is(JSON.parse((await statusJson(dir, {}, ['--remote', 'file:///flag'])).stdout).remote, 'file:///flag');
  assert.is(JSON.parse((await statusJson(dir, { SNAPPY_REMOTE: 'file:///env' })).stdout).remote, 'file:///env');
});

test('the search passes over an empty config file, a package.json without "snappy", and follows $import', async () => {
  const empty = project({ 'package.json': JSON.stringify({ name: 'x' }), 'snappy.config.mjs': '\n', 'snappy.config.json': JSON.stringify({ remote: 'file:///after-empty' }) });
  assert.is(JSON.parse((await statusJson(empty)).stdout).remote, 'file:///after-empty');
  const imported = project({ 'base.json': JSON.stringify({ remote: 'file:///imported' }), 'snappy.config.json': JSON.stringify({ $import: './base.json', machineId: 'm-1' }) });
  assert.is(JSON.parse((await statusJson(imported)).stdout).remote, 'file:///imported');
});

test('overrides merge in order: base, then tenant, then machine', async () => {
  // sha256("k1") starts with 0f..., tenant id = first 12 hex.
  const { createHash } = await import('node:crypto');
  const tenant = createHash('sha256').update('k1').digest('hex').slice(0, 12);
  const dir = project({
    'snappy.config.json': JSON.stringify({
      remote: 'file:///base',
      tenants: { [tenant]: { remote: 'file:///tenant' } },
      machines: { m2: { remote: 'file:///machine' } },
    }),
  });
  assert.is(JSON.parse((await statusJson(dir)).stdout).remote, 'file:///base');
  assert.is(JSON.parse((await statusJson(dir, { SNAPPY_MASTER_KEY: 'k1' })).stdout).remote, 'file:///tenant');
  const both = JSON.parse((await statusJson(dir, { SNAPPY_MASTER_KEY: 'k1', SNAPPY_MACHINE_ID: 'm2' })).stdout);
  assert.is(both.remote, 'file:///machine');
  assert.is(both.tenant, tenant);
});

test('a missing --config file exits 2 naming it', async () => {
  const dir = project({});
  const r = await statusJson(dir, {}, ['--config', path.join(dir, 'nope.ts')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'nope.ts');
});

test('a third-party plugin given as a module specifier with options is loaded and validated', async () => {
  const core = JSON.stringify(path.resolve('core/index.ts'));
  const dir = project({
    'my-plugin.ts': `import { definePlugin, z } from ${core};\nexport default definePlugin({ name: 'greeter', options: z.object({ greeting: z.string() }).strict(), apply(hooks, ctx) { hooks.onStatus.tapPromise('greeter', async (_run, s) => { s.sections.greeter = ctx.options.greeting; }); } });\n`,
    'good.json': JSON.stringify({ plugins: [['./my-plugin.ts', { greeting: 'hello' }]] }),
    'bad.json': JSON.stringify({ plugins: [['./my-plugin.ts', { greeting: 5 }]] }),
    'missing.json': JSON.stringify({ plugins: ['./nowhere.ts'] }),
  });
  const good = await statusJson(dir, {}, ['--config', path.join(dir, 'good.json')]);
  assert.is(good.code, 0, good.stderr);
  assert.is(JSON.parse(good.stdout).greeter, 'hello');
  const bad = await statusJson(dir, {}, ['--config', path.join(dir, 'bad.json')]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, 'greeter.greeting');
  const missing = await statusJson(dir, {}, ['--config', path.join(dir, 'missing.json')]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, 'nowhere.ts');
});

test("an invalid option in one tenant's override fails every machine's run at load time, naming the file, tenants.<id>.<path> and what was expected", async () => {
  const { createHash } = await import('node:crypto');
  const tenant = createHash('sha256').update('k1').digest('hex').slice(0, 12);
  const dir = project({ 'snappy.config.json': JSON.stringify({ tenants: { [tenant]: { regen: { pid: { setpoint: 7 } } } }, machines: { 'm-ci': { sync: { concurency: 3 } } } }) });
  const file = path.join(dir, 'snappy.config.json');
  // That tenant, another tenant, and a machine with no master key at all: every one refuses.
  for (const env of [{ SNAPPY_MASTER_KEY: 'k1' }, { SNAPPY_MASTER_KEY: 'k2' }, {}] as Record<string, string>[]) {
    const r = await statusJson(dir, env);
    assert.is(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    assert.is(out.error.code, 'E_CONFIG');
    assert.match(out.error.message, `invalid config ${file}`);
    assert.equal(out.error.details.issues, [
      { path: `tenants.${tenant}.regen.pid.setpoint`, message: 'Too big: expected number to be <=1' },
      { path: 'machines.m-ci.sync.concurency', message: 'unknown key; expected one of: allow, deny, concurrency, retries, retryBaseMs, adoptCanonical' },
    ]);
  }
  const human = await runCli(['run', 'aggregate', '--state', path.join(dir, 'state')], { cwd: dir, env: { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'k2' } });
  assert.is(human.code, 2, 'the run of an unaffected tenant is refused before any work');
  assert.match(human.stderr, `at tenants.${tenant}.regen.pid.setpoint: Too big: expected number to be <=1`);
  assert.not.ok(existsSync(path.join(dir, 'state', '.snappy')), 'nothing was written to the state');
});

test('an override that is wrong only in combination names the file, the plugin and the tenant and machine it applies to', async () => {
  const { createHash } = await import('node:crypto');
  const tenant = createHash('sha256').update('k1').digest('hex').slice(0, 12);
  // Alone each is fine (on 0.15 over off 0.1; off 0.18 under on 0.2); merged, off exceeds on.
  const dir = project({ 'snappy.config.json': JSON.stringify({ tenants: { [tenant]: { regen: { pid: { on: 0.15 } } } }, machines: { m1: { regen: { pid: { off: 0.18 } } } } }) });
  assert.is((await statusJson(dir, { SNAPPY_MASTER_KEY: 'k2' })).code, 0, 'another tenant on the same machine id runs');
  const r = await statusJson(dir, { SNAPPY_MASTER_KEY: 'k1' });
  assert.is(r.code, 2, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.error.plugin, 'regen');
  assert.match(out.error.message, `invalid config ${path.join(dir, 'snappy.config.json')}`);
  assert.match(out.error.message, `tenant ${tenant}, machine m1`);
  assert.match(out.error.message, 'at regen.pid.off: off (0.18) must not exceed on (0.15)');
});

test('a bad tenant or machine key says what a key must look like and where to get one', async () => {
  const dir = project({ 'snappy.config.json': JSON.stringify({ tenants: { nothex: {} }, machines: { 'bad id!': {} } }) });
  const r = await statusJson(dir);
  assert.is(r.code, 2, r.stderr);
  const issues = JSON.parse(r.stdout).error.details.issues;
  assert.equal(issues, [
    { path: 'tenants.nothex', message: 'expected a tenant id: 12 lower-case hex characters, the first 12 of the SHA-256 of the master key (`snappy ops key` prints it)' },
    { path: 'machines.bad id!', message: "expected a machine id: 1-64 characters of [A-Za-z0-9._-] (`snappy status` prints this machine's)" },
  ]);
  assert.match(r.stderr, 'at tenants.nothex: expected a tenant id: 12 lower-case hex characters');
});

test.run();
