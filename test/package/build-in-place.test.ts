// `npm run build` while something runs the CLI (a test, a watch): the build is made aside and
// renamed into place, so dist/ is at every moment a whole build, the old or the new one, or
// briefly absent (bin/snappy.cjs then runs the sources); never a half-written one whose cli.js
// imports chunks that are not there yet. Built in a copy of the tree: the repo's own dist/ is
// never touched, so other tests running meanwhile are not disturbed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.ts';
import { copyTree } from '../helpers/tree-copy.ts';

const src = path.join(tmpDir('snappy-build-'), 'src');
const dist = path.join(src, 'dist');
const BUILD = path.join(src, 'scripts', 'build.mjs');
/** What every complete build holds at the top of dist/. */
const WHOLE = ['build.json', 'chunks', 'cli.js', 'help-100.txt', 'index.js'];

test.before(() => {
  copyTree(src);
});

/** The names in dist/ missing from a whole build; null when there is no dist/ at all. */
function missing(): string[] | null {
  let names: string[];
  try {
    names = readdirSync(dist); // one listing: a consistent view of the folder at one moment
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return WHOLE.filter((n) => !names.includes(n));
}

test('a rebuild replaces dist/ whole: watched all through, it never holds part of a build, and leaves nothing beside it', async () => {
  const first = spawnSync(process.execPath, [BUILD, '--js-only'], { cwd: src, encoding: 'utf8' });
  assert.is(first.status, 0, first.stderr);
  assert.equal(missing(), []);
  // A file the build does not make (the Worker bundle) is kept.
  const worker = path.join(dist, 'worker.js');
  cpSync(path.join(dist, 'index.js'), worker);

  const child = spawn(process.execPath, [BUILD, '--js-only'], { cwd: src, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let done = false;
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => ((done = true), resolve(code))));
  let looks = 0;
  const partial: string[] = [];
  while (!done) {
    const m = missing();
    looks++;
    if (m && m.length) partial.push(`missing ${m.join(', ')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.is(await exit, 0, err);
  assert.ok(looks > 10, `dist/ was looked at ${looks} times during the build`);
  assert.equal(partial.slice(0, 3), [], `dist/ held part of a build ${partial.length} of ${looks} times`);
  assert.equal(missing(), []);
  assert.ok(existsSync(worker), 'the Worker bundle was kept');
  assert.equal(readdirSync(src).filter((n) => n.startsWith('.dist-')), [], 'no build folder left beside dist/');
  // The new build runs.
  const help = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(new URL(`file://${path.join(dist, 'cli.js')}`).href)}); process.exitCode = await main(['--help']);`], { cwd: src, encoding: 'utf8' });
  assert.is(help.status, 0, help.stderr);
  assert.is(help.stdout, readFileSync(path.join(dist, 'help-100.txt'), 'utf8'));
});

test.run();
