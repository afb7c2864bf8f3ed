// The cron job's no-op `snappy run push --auto`, as the built package runs it: what it loads and
// what it writes. It starts on a few modules (bin, dist/chunks/run.js, the core, the compiled
// config), loads none of zod, picomatch or yaml once its config's parses are remembered
// (core/lazy-schema.ts, cli/parse-memo.ts), and rewrites no state file that did not change.
// The memo must never let a bad config through: a changed config is parsed again, and refused.
// In a copy of the tree with its own build, so the repo's dist/ is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { copyTree } from '../helpers/tree-copy.ts';

const work = tmpDir('snappy-noop-');
const src = path.join(work, 'src');
const project = path.join(work, 'project');
const TRACE = path.join(ROOT, 'test', 'helpers', 'trace-loads.mjs');

test.before(() => {
  copyTree(src, { build: true });
  // The embedded default as an installed project has it: the package in its node_modules.
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  symlinkSync(src, path.join(project, 'node_modules', 'snappy-os'), 'dir');
  cpSync(path.join(ROOT, 'state'), path.join(project, 'state'), { recursive: true, filter: (f) => !f.includes(`${path.sep}.snappy`) });
  cpSync(path.join(ROOT, 'examples'), path.join(project, 'examples'), { recursive: true });
  cpSync(path.join(ROOT, 'snappy.config.ts'), path.join(project, 'snappy.config.ts'));
});

interface Run {
  status: number | null;
  stderr: string;
  /** ES modules resolved (file URLs under the package or the project). */
  esm: string[];
  /** CommonJS files loaded (NODE_DEBUG=module). */
  cjs: string[];
}

function push(extra: string[] = []): Run {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && k !== 'NODE_OPTIONS') env[k] = v;
  const r = spawnSync(process.execPath, ['--import', TRACE, path.join(src, 'bin', 'snappy.cjs'), 'run', 'push', '--auto', ...extra], {
    cwd: project,
    encoding: 'utf8',
    env: { ...env, NODE_DEBUG: 'module', SNAPPY_MACHINE_ID: 'noop', SNAPPY_MASTER_KEY: 'noop-master-key-0123456789abcdef' },
  });
  const lines = r.stderr.split('\n');
  return {
    status: r.status,
    stderr: lines.filter((l) => !l.startsWith('LOAD ') && !l.startsWith('MODULE ')).join('\n'),
    esm: lines.filter((l) => l.startsWith('LOAD file://') && (l.includes(src) || l.includes(project))).map((l) => l.slice('LOAD file://'.length)),
    cjs: lines.flatMap((l) => /^MODULE \d+: load "([^"]+)"/.exec(l)?.[1] ?? []),
  };
}

const rel = (f: string) => (f.startsWith(src) ? path.relative(src, f) : `<project>/${path.relative(project, f)}`);
const lazyLibs = (r: Run) => r.cjs.filter((f) => /dist\/chunks\/(zod|picomatch|yaml)\.cjs$/.test(f)).map((f) => path.basename(f));

/** size, mtime and inode of each of the state's own files: what a rewrite would change. */
function stateFiles(): Map<string, string> {
  const dir = path.join(project, 'state', '.snappy');
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const f = path.join(d, n);
      const st = statSync(f, { bigint: true });
      if (st.isDirectory()) walk(f);
      else out.set(path.relative(dir, f), `${st.ino}:${st.size}:${st.mtimeNs}`);
    }
  };
  walk(dir);
  return out;
}

test('the first push does the work (a regen: yaml is loaded) and a no-op push loads only bin, run.js, the core and the config', () => {
  const first = push();
  assert.is(first.status, 0, first.stderr);
  assert.ok(lazyLibs(first).includes('zod.cjs'), `the first run validates with zod: ${lazyLibs(first)}`);
  assert.ok(lazyLibs(first).includes('yaml.cjs'), 'the regen of the first run reads and writes a page with yaml');
  const noop = push();
  assert.is(noop.status, 0, noop.stderr);
  assert.equal(lazyLibs(noop), [], 'a no-op run loaded a library it does not need');
  const ours = noop.esm.map(rel).filter((f) => !f.startsWith('<project>/node_modules/.cache/'));
  assert.equal([...new Set(ours)].sort(), ['bin/snappy.cjs', 'dist/chunks/core.js', 'dist/chunks/run.js', 'dist/index.js'].sort(), `loaded: ${ours.join(', ')}`);
  assert.ok(noop.esm.some((f) => f.includes('/node_modules/.cache/snappy/config/')), 'the compiled config is imported');
  assert.not.ok(noop.esm.some((f) => f.includes('@aws-sdk')) || noop.cjs.some((f) => f.includes('@aws-sdk')));
});

test('a no-op push rewrites none of the state\'s own files but the record of the last push', () => {
  push();
  const before = stateFiles();
  const r = push();
  assert.is(r.status, 0, r.stderr);
  const after = stateFiles();
  const changed = [...after].filter(([f, v]) => before.get(f) !== v).map(([f]) => f);
  assert.equal(changed, ['last-push.json']);
});

test('a changed config is parsed again: a bad value is refused after runs that remembered the good one', () => {
  const config = path.join(project, 'snappy.config.ts');
  const good = push();
  assert.is(good.status, 0, good.stderr);
  writeFileSync(config, `import { defineConfig } from 'snappy-os';\nexport default defineConfig({ regen: { agent: ['node', 'examples/regen-agent.mjs'] }, sync: { concurrency: 0 } });\n`);
  const bad = push();
  assert.is(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, 'sync.concurrency');
  assert.ok(lazyLibs(bad).includes('zod.cjs'));
  // And again: a failure is never remembered.
  const again = push();
  assert.is(again.status, 2);
  assert.match(again.stderr, 'sync.concurrency');
  cpSync(path.join(ROOT, 'snappy.config.ts'), config);
  const back = push();
  assert.is(back.status, 0, back.stderr);
  assert.equal(lazyLibs(back), [], 'the good config is still remembered');
});

test.run();
