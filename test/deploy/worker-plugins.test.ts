// Third-party plugins in the Worker: a project installs plugin packages and names them in its
// config by package name (and one by path); `node worker/build.mjs` evaluates the config,
// bundles the plugins that say they run in the Worker, leaves Node-only ones out with a note,
// and refuses one that claims the Worker but cannot bundle for it. The bundle then runs in
// real workerd (miniflare), where the plugin's onTick tap does its work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Miniflare } from 'miniflare';
import { ROOT, collect, runCli, type CliResult } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { kvOf, r2Of, startWorker } from '../worker/helpers.ts';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'plugins');
let mf: Miniflare | undefined;

test.after(async () => {
  await mf?.dispose();
});

/** A project folder as a user has it: its config, and plugin packages installed in node_modules. */
function project(config: string, packages: string[]): string {
  const dir = tmpDir('snappy-worker-plugins-');
  mkdirSync(path.join(dir, 'node_modules'));
  // The plugins import `snappy-os`, as a package installed beside them.
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'snappy-os'), 'dir');
  for (const p of packages) cpSync(path.join(FIXTURES, p), path.join(dir, 'node_modules', p), { recursive: true });
  writeFileSync(path.join(dir, 'snappy.config.ts'), config);
  return dir;
}

/** `node worker/build.mjs` as a process, from the project's folder. */
function build(dir: string): Promise<CliResult> {
  const child = spawn(process.execPath, [path.join(ROOT, 'worker', 'build.mjs'), '--outfile', path.join(dir, 'dist', 'worker.js')], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  return collect(child, { timeoutMs: 180_000 });
}

test('a plugin package named by package name, and a plugin file named by path, are bundled and tick in workerd; a Node-only plugin is left out with a note', async () => {
  const dir = project(
    `// A fleet's Worker config: plugins by package name, by path, and as objects; two for Node only.
const mark = (name, runtimes) => ({ name, ...(runtimes ? { runtimes } : {}), apply(hooks) { hooks.onTick.tapPromise(name, async (tick) => { await tick.kv.put(name, 'ran'); }); } });
export default {
  plugins: [
    ['snappy-plugin-tick-stamp', { key: 'stamps' }],
    'snappy-plugin-local-files',
    { plugin: './plugins/by-path.mjs', options: {} },
    mark('object-for-worker', ['node', 'worker']),
    mark('object-for-node'),
  ],
};
`,
    ['snappy-plugin-tick-stamp', 'snappy-plugin-local-files'],
  );
  mkdirSync(path.join(dir, 'plugins'));
  writeFileSync(
    path.join(dir, 'plugins', 'by-path.mjs'),
    `export default { name: 'by-path', runtimes: ['worker'], apply(hooks) { hooks.onTick.tapPromise('by-path', async (tick) => { await tick.kv.put('by-path', 'ran'); }); } };\n`,
  );
  const r = await build(dir);
  assert.is(r.code, 0, `build failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /plugins: tick-stamp, by-path, object-for-worker\)/, r.stdout);
  assert.match(r.stderr, /note: plugin "object-for-node" \(plugins\[4\]\) does not list 'worker' in its runtimes \(node\): left out of the Worker/, r.stderr);
  assert.match(r.stderr, /note: plugin "local-files" \(plugins\[1\], "snappy-plugin-local-files"\) does not list 'worker' in its runtimes \(node\): left out of the Worker/, r.stderr);
  const bundle = readFileSync(path.join(dir, 'dist', 'worker.js'), 'utf8');
  assert.not.ok(bundle.includes('LOCAL-FILES-PLUGIN-CODE'), 'the Node-only plugin\'s code is not in the bundle');
  assert.ok(bundle.includes('tick-stamp/'), 'the third-party plugin\'s code is in the bundle');

  mf = await startWorker(path.join(dir, 'dist', 'worker.js'));
  const worker = await mf.getWorker();
  for (let i = 0; i < 2; i++) {
    const res = await worker.scheduled({ cron: '* * * * *' });
    assert.is(res.outcome, 'ok', `scheduled event ${i + 1}: ${JSON.stringify(res)}`);
  }
  const kv = await kvOf(mf);
  assert.is(await kv.get('stamps'), '2', 'the package plugin\'s onTick tap ran once per scheduled event, with its options');
  assert.is(await kv.get('by-path'), 'ran', 'the plugin named by path ran too');
  assert.is(await kv.get('object-for-worker'), 'ran', 'a plugin object that lists worker ran');
  assert.is(await kv.get('object-for-node'), null, 'a plugin object for Node only was not applied in the Worker');
  const stamp = await (await r2Of(mf)).get('tick-stamp/stamps.json');
  assert.ok(stamp, 'the plugin wrote to the bucket');
  assert.equal(JSON.parse(await stamp!.text()), { n: 2, env: 'worker', plugins: 5 });
});

test('a plugin that says it runs in the Worker but imports node:fs fails the build, naming the plugin and why', async () => {
  const dir = project(`export default { plugins: [['snappy-plugin-tick-stamp', { key: 'k' }], 'snappy-plugin-bad-worker'] };\n`, ['snappy-plugin-tick-stamp', 'snappy-plugin-bad-worker']);
  const r = await build(dir);
  assert.is(r.code, 1, `the build must fail:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /plugin "bad-worker" \(plugins\[1\], "snappy-plugin-bad-worker"\) says it runs in the Worker \(runtimes\) but does not bundle for workerd/);
  assert.match(r.stderr, /node:fs/);
  assert.not.match(r.stderr, /"tick-stamp"/, 'the plugin that bundles is not blamed');
});

test('a Node-only plugin object imported into the config cannot bundle: the build fails and says to name it by package instead', async () => {
  const dir = project(`import localFiles from 'snappy-plugin-local-files';\nexport default { plugins: [localFiles] };\n`, ['snappy-plugin-local-files']);
  const r = await build(dir);
  assert.is(r.code, 1, `the build must fail:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /Could not resolve "node:fs" \(node_modules\/snappy-plugin-local-files\/index\.js/);
  assert.match(r.stderr, 'is bundled whole, with every plugin object it imports: name a Node-only plugin by package name or path instead');
});

test('a plugin module the config names but nobody installed fails the build, naming the entry', async () => {
  const dir = project(`export default { plugins: ['snappy-plugin-nowhere'] };\n`, []);
  const r = await build(dir);
  assert.is(r.code, 1);
  assert.match(r.stderr, /plugins\[0\]: cannot find plugin module "snappy-plugin-nowhere"/);
});

test('the CLI applies plugins that list node and leaves out those that run in the Worker only', async () => {
  const dir = tmpDir('snappy-cli-runtimes-');
  const tap = (name: string, runtimes: string[]) => `export default { name: '${name}', runtimes: ${JSON.stringify(runtimes)}, apply(hooks) { hooks.onStatus.tapPromise('${name}', async (_run, s) => { s.sections['${name}'] = 'applied'; }); } };\n`;
  writeFileSync(path.join(dir, 'both.mjs'), tap('both', ['node', 'worker']));
  writeFileSync(path.join(dir, 'worker-only.mjs'), tap('worker-only', ['worker']));
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ plugins: ['./both.mjs', './worker-only.mjs'] }));
  mkdirSync(path.join(dir, 'state'));
  const r = await runCli(['status', '--json', '--state', path.join(dir, 'state'), '--config', path.join(dir, 'snappy.config.json')], { cwd: dir, env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.both, 'applied');
  assert.is(out['worker-only'], undefined, 'a Worker-only plugin is not applied by the CLI');
});

test.run();
