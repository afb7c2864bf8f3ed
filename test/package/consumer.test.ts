// The package as a user gets it: the working tree is copied aside (the repo's own dist/ is
// never touched, so other tests running meanwhile are not disturbed), packed once with
// `npm pack` (whose prepack hook builds dist/ from these sources), and the tarball installed
// into a fresh project beside a third-party plugin that is a package of its own, importing
// 'snappy-os' by name. There the installed CLI runs the main job with that plugin; plain
// Node imports the package on every Node found; tsc checks the plugin against the published
// declarations under `module: node16` and under `moduleResolution: bundler`, strict.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { copyTree } from '../helpers/tree-copy.ts';

const work = tmpDir('snappy-consumer-');
const project = path.join(work, 'project');
const pluginDir = path.join(project, 'plugins', 'snappy-plugin-hold');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to its end; never rejects (the test asserts on the result). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && !k.startsWith('npm_')) env[k] = v;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => resolve({ code: -1, out, err: `${err}${e.message}` }));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.out.slice(-3000)}\n--- stderr\n${r.err.slice(-3000)}`;

/** Every file below `dir`, relative, POSIX separators. */
function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const full = path.join(dir, n);
    return statSync(full).isDirectory() ? listFiles(full, base) : [path.relative(base, full).split(path.sep).join('/')];
  });
}

/** The Node binaries to import the package with: this one, and Node 22/24 where .ci/run keeps them. */
function nodes(): { version: string; bin: string }[] {
  const out = [{ version: process.version, bin: process.execPath }];
  const tools = process.env.SNAPPY_CI_TOOLS ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'snappy-ci');
  if (existsSync(tools)) {
    for (const d of readdirSync(tools).sort()) {
      const bin = path.join(tools, d, 'node_modules', 'node', 'bin', 'node');
      if (/^node-\d/.test(d) && existsSync(bin) && bin !== process.execPath) out.push({ version: `v${d.slice('node-'.length)}`, bin });
    }
  }
  return out;
}

// The third-party plugin: its own package, in TypeScript, importing the package by name. It
// holds back pages whose path starts with one of its `hold` prefixes (a beforePush filter),
// counts the eval rows it hears of (afterEval), and writes both down in the state dir.
const PLUGIN = `import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AsyncSeriesHook, definePlugin, Stage, z, type PushPlan, type RunContext } from 'snappy-os';

declare module 'snappy-os' {
  interface SnappyHooks {
    onHeld: AsyncSeriesHook<[RunContext, { path: string }]>;
  }
}

export default definePlugin({
  name: 'hold',
  options: z.object({ hold: z.array(z.string()).default([]) }).strict(),
  apply(hooks, ctx) {
    // The options are typed from the schema, not any.
    const prefixes: string[] = ctx.options.hold;
    // @ts-expect-error: not an option of this plugin
    void ctx.options.missing;
    const onHeld = ctx.defineHook('onHeld', { hook: new AsyncSeriesHook(['run', 'held']), failure: 'observe' });
    let evals = 0;
    hooks.afterEval.tap(ctx.name, (_run, row) => {
      const score: number = row.score;
      if (score >= 0) evals++;
    });
    hooks.beforePush.tapPromise({ name: ctx.name, stage: Stage.FILTER }, async (plan: PushPlan, push) => {
      const held = plan.entries.filter((e) => prefixes.some((p) => e.path.startsWith(p)));
      for (const e of held) await onHeld.promise(push, { path: e.path });
      writeFileSync(path.join(push.stateDir, 'hold-stamp.json'), JSON.stringify({ held: held.map((e) => e.path), evals }));
      return { ...plan, entries: plan.entries.filter((e) => !held.includes(e)) };
    });
  },
});
`;

test.before(() => {
  // The working tree as npm would pack it, plus what the build needs.
  const src = path.join(work, 'src');
  copyTree(src, { extra: ['README.md', 'LICENSE'] });

  mkdirSync(pluginDir, { recursive: true });
  writeFileSync(
    path.join(pluginDir, 'package.json'),
    `${JSON.stringify({ name: 'snappy-plugin-hold', version: '1.0.0', type: 'module', exports: { '.': './index.ts' }, peerDependencies: { 'snappy-os': '*' } }, null, 2)}\n`,
  );
  writeFileSync(path.join(pluginDir, 'index.ts'), PLUGIN);
  const strict = { strict: true, noEmit: true, target: 'ES2022', skipLibCheck: false, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, noImplicitOverride: true, types: ['node'] };
  writeFileSync(path.join(pluginDir, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16' }, files: ['index.ts'] }));
  writeFileSync(path.join(pluginDir, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'bundler' }, files: ['index.ts'] }));
});

let tarball = '';

test('npm pack makes a package of the built library, the CLI, declarations and the LICENSE, without tests, benchmarks or scripts', async () => {
  const src = path.join(work, 'src');
  const r = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: src });
  assert.is(r.code, 0, show(r));
  // stdout is npm's JSON alone: the build (prepack) says what it did on stderr.
  const [info] = JSON.parse(r.out) as { filename: string; size: number; entryCount: number; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  tarball = path.join(work, info!.filename);
  assert.ok(existsSync(tarball), `${tarball} was written`);
  assert.is(info!.filename, 'snappy-os-0.1.0.tgz');
  for (const f of ['package.json', 'LICENSE', 'README.md', 'bin/snappy.cjs', 'dist/index.js', 'dist/cli.js', 'dist/build.json', 'dist/help-100.txt', 'dist/types/core/index.d.ts', 'dist/index.js.map']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  const unwanted = files.filter((f) => /^(test|bench|scripts|examples|state\/(skills|log))\//.test(f) || f === 'dist/worker.js');
  assert.equal(unwanted, [], 'nothing of the tests, benchmarks, scripts or example state');
  const pkg = JSON.parse(readFileSync(path.join(src, 'package.json'), 'utf8'));
  assert.match(readFileSync(path.join(src, 'LICENSE'), 'utf8'), new RegExp(`^${pkg.license} License`), 'the LICENSE file is the license package.json names');
  console.log(`package: ${info!.filename}, ${(info!.size / 1024).toFixed(0)} KB packed, ${info!.entryCount} files`);
});

test('installed into a fresh project with a plugin package: plain Node imports it, and snappy init + run push --auto run the plugin', async () => {
  assert.ok(tarball, 'the package was packed');
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'snappy-os': `file:${tarball}`, 'snappy-plugin-hold': 'file:./plugins/snappy-plugin-hold' }, devDependencies: { '@types/node': '22.20.7' } }, null, 2)}\n`,
  );
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project });
  assert.is(install.code, 0, show(install));

  for (const n of nodes()) {
    const r = await run(n.bin, ['-e', "import('snappy-os').then((m) => console.log(typeof m.definePlugin, typeof m.defineConfig, typeof m.z.object))"], { cwd: project });
    assert.is(r.code, 0, `node ${n.version}: ${show(r)}`);
    assert.is(r.out.trim(), 'function function function', `node ${n.version} imports the package`);
    console.log(`imported on node ${n.version}`);
  }

  const env = { SNAPPY_MACHINE_ID: 'consumer' };
  const init = await run('npx', ['snappy', 'init'], { cwd: project, env });
  assert.is(init.code, 0, show(init));
  assert.match(readFileSync(path.join(project, 'snappy.config.ts'), 'utf8'), /from 'snappy-os'/, 'init writes a config importing the package by name');
  const state = path.join(project, 'state');
  writeFileSync(path.join(state, 'skills', 'private-notes.md'), '---\nname: private-notes\ndescription: kept on this machine by the plugin\n---\nnotes\n');
  mkdirSync(path.join(state, 'log'), { recursive: true });
  const evals = readFileSync(path.join(ROOT, 'state', 'log', 'evals.ndjson'), 'utf8');
  writeFileSync(path.join(state, 'log', 'evals.ndjson'), evals);
  writeFileSync(
    path.join(project, 'snappy.config.ts'),
    `import { defineConfig } from 'snappy-os';\n\nexport default defineConfig({ plugins: [['snappy-plugin-hold', { hold: ['skills/private-'] }]] });\n`,
  );

  const push = await run('npx', ['snappy', 'run', 'push', '--auto'], { cwd: project, env });
  assert.is(push.code, 0, show(push));
  const stamp = JSON.parse(readFileSync(path.join(state, 'hold-stamp.json'), 'utf8')) as { held: string[]; evals: number };
  assert.equal(stamp.held, ['skills/private-notes.md'], 'the plugin saw the held page in the push plan');
  const rows = evals.split('\n').filter((l) => l.trim()).length;
  assert.is(stamp.evals, rows, 'afterEval reached the plugin once per eval row');
  const remote = listFiles(path.join(project, '.snappy-remote'));
  assert.ok(remote.some((f) => f.endsWith('/example.md')), `the example page was pushed: ${remote.join(', ')}`);
  assert.not.ok(remote.some((f) => f.includes('private-notes')), 'the page the plugin held back stayed local');
  // The installed CLI ran its own build: no TypeScript of snappy's was compiled on the way.
  const installed = path.join(project, 'node_modules', 'snappy-os');
  assert.ok(existsSync(path.join(installed, 'dist', 'cli.js')));
  const cache = listFiles(path.join(project, 'node_modules', '.cache', 'snappy', 'config'));
  assert.ok(cache.some((f) => f.endsWith('.mjs')), `the .ts config was compiled once into node_modules/.cache/snappy: ${cache.join(', ')}`);
  const compiled = readFileSync(path.join(project, 'node_modules', '.cache', 'snappy', 'config', cache.find((f) => f.endsWith('.mjs'))!), 'utf8');
  assert.match(compiled, /snappy-os\/dist\/index\.js"/, `${compiled.slice(0, 300)}: the compiled config imports the installed library the CLI itself runs`);

  // --help from the text the build saved is the text the argument parser prints.
  const help = await run('npx', ['snappy', '--help'], { cwd: project });
  const parsed = await run(process.execPath, [path.join(ROOT, 'bin', 'snappy.cjs'), '--help'], { cwd: project, env: { SNAPPY_FROM_SOURCES: '1' } });
  assert.is(help.code, 0, show(help));
  assert.is(help.out, parsed.out, 'the installed --help is what the sources print');
});

for (const flavour of ['node16', 'bundler']) {
  test(`the plugin typechecks against the published declarations (tsc --noEmit, ${flavour === 'node16' ? 'module: node16' : 'moduleResolution: bundler'}, strict)`, async () => {
    assert.ok(existsSync(path.join(project, 'node_modules', 'snappy-os', 'dist', 'types')), 'the package is installed');
    const r = await run(process.execPath, [TSC, '-p', `tsconfig.${flavour}.json`], { cwd: pluginDir });
    assert.is(r.code, 0, show(r));
    // The control: the same plugin with a wrong option type is refused, so the check is real.
    writeFileSync(path.join(pluginDir, 'broken.ts'), `${PLUGIN.replace('const prefixes: string[] = ctx.options.hold;', 'const prefixes: number[] = ctx.options.hold;')}`);
    writeFileSync(path.join(pluginDir, `tsconfig.broken.json`), JSON.stringify({ extends: `./tsconfig.${flavour}.json`, files: ['broken.ts'] }));
    const bad = await run(process.execPath, [TSC, '-p', 'tsconfig.broken.json'], { cwd: pluginDir });
    assert.is.not(bad.code, 0, 'a type error in the plugin is reported');
    assert.match(bad.out, /broken\.ts.*Type 'string\[\]' is not assignable to type 'number\[\]'/s, bad.out);
  });
}

test.run();
