// A checkout runs its build (dist/) or its sources by turns: a `.ts` config is compiled for
// each once, and one never throws the other's compilation away (else every switch compiles
// again, loading esbuild). In a copy of the tree with a build of its own, so the repo's dist/
// is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.ts';
import { copyTree } from '../helpers/tree-copy.ts';

const work = tmpDir('snappy-config-cache-');
const src = path.join(work, 'src');
const project = path.join(work, 'project');
const cacheDir = path.join(project, 'node_modules', '.cache', 'snappy', 'config');

test.before(() => {
  copyTree(src, { build: true });
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  mkdirSync(path.join(project, 'state'));
  writeFileSync(path.join(project, 'snappy.config.ts'), `import { defineConfig } from 'snappy-os';\nexport default defineConfig({ builtins: ['sync'] });\n`);
});

/** `snappy status` in the project, from the build or from the sources; the compiled configs after it, by name and inode. */
function status(fromSources: boolean): Map<string, number> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_')) env[k] = v;
  const r = spawnSync(process.execPath, [path.join(src, 'bin', 'snappy.cjs'), 'status', '--json'], {
    cwd: project,
    encoding: 'utf8',
    env: { ...env, SNAPPY_MACHINE_ID: 'cache-test', ...(fromSources ? { SNAPPY_FROM_SOURCES: '1' } : {}) },
  });
  assert.is(r.status, 0, r.stderr);
  return new Map(readdirSync(cacheDir).filter((n) => n.endsWith('.mjs')).map((n) => [n, statSync(path.join(cacheDir, n)).ino]));
}

test('the build and the sources each keep their compiled config: switching between them compiles nothing again', () => {
  const built = status(false);
  assert.is(built.size, 1, `one compilation: ${[...built.keys()]}`);
  const both = status(true);
  assert.is(both.size, 2, `the sources' own beside the build's: ${[...both.keys()]}`);
  const again = status(false);
  assert.equal(again, both, 'the build ran its compilation of before, untouched');
  assert.equal(status(true), both, 'so did the sources');
});

test('a project with no node_modules above it (a global install) keeps its compiled config in the user cache: the second run compiles nothing', () => {
  const bare = tmpDir('snappy-config-bare-');
  const userCache = tmpDir('snappy-user-cache-');
  mkdirSync(path.join(bare, 'state'));
  writeFileSync(path.join(bare, 'snappy.config.ts'), `import { defineConfig } from 'snappy-os';\nexport default defineConfig({ builtins: ['sync'] });\n`);
  const env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: userCache, SNAPPY_MACHINE_ID: 'cache-test' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && k !== 'XDG_CACHE_HOME') env[k] = v;
  const dir = path.join(userCache, 'snappy', 'config');
  const run = () => {
    const r = spawnSync(process.execPath, [path.join(src, 'bin', 'snappy.cjs'), 'status', '--json'], { cwd: bare, encoding: 'utf8', env });
    assert.is(r.status, 0, r.stderr);
    return new Map(readdirSync(dir).filter((n) => n.endsWith('.mjs')).map((n) => [n, statSync(path.join(dir, n)).ino]));
  };
  const first = run();
  assert.is(first.size, 1, `one compilation: ${[...first.keys()]}`);
  assert.equal(run(), first, 'the second run imported the first compilation, untouched');
  // A user cache that cannot be written: the system's temporary folder serves instead.
  const tmp = tmpDir('snappy-tmp-');
  const r = spawnSync(process.execPath, [path.join(src, 'bin', 'snappy.cjs'), 'status', '--json'], { cwd: bare, encoding: 'utf8', env: { ...env, XDG_CACHE_HOME: path.join(bare, 'snappy.config.ts', 'not-a-folder'), TMPDIR: tmp } });
  assert.is(r.status, 0, r.stderr);
  assert.is(readdirSync(path.join(tmp, `snappy-config-${process.getuid!()}`)).filter((n) => n.endsWith('.mjs')).length, 1);
});

test.run();
