import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdirSync } from 'node:fs';
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
  assert.match(r.stderr, 'remtoe');
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

test.run();
