// cli/parse-memo.ts and cli/cache-dir.ts: where the built CLI keeps what it remembers between
// runs, and when it trusts what it finds there. Each memo is its build's own; one that is
// damaged, another build's, or in a folder others could write, is not read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { trustedCacheDir } from '../../cli/cache-dir.ts';

const BUILD_A = 'aaaaaaaaaaaaaaaa';
const BUILD_B = 'bbbbbbbbbbbbbbbb';

/**
 * In a child process (the memo is written when the process exits): opens the memo of `build`
 * for `dir`, reads `get`, then sets `set` (key=value pairs). Prints what `get` found.
 */
function session(dir: string, build: string, opts: { get?: string[]; set?: Record<string, string> } = {}): (string | null)[] {
  const script = `
    const { openParseMemo } = await import(${JSON.stringify(path.join(ROOT, 'cli', 'parse-memo.ts'))});
    const memo = openParseMemo(${JSON.stringify(dir)}, ${JSON.stringify(build)});
    const found = ${JSON.stringify(opts.get ?? [])}.map((k) => memo ? memo.get(k) ?? null : 'no memo');
    for (const [k, v] of Object.entries(${JSON.stringify(opts.set ?? {})})) memo.set(k, v);
    process.stdout.write(JSON.stringify(found));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as (string | null)[];
}

function project(): { dir: string; memoDir: string } {
  const dir = tmpDir('snappy-memo-');
  mkdirSync(path.join(dir, 'node_modules'));
  return { dir, memoDir: path.join(dir, 'node_modules', '.cache', 'snappy', 'parse-memo') };
}

test('a memo is kept per build: a second build starts empty and leaves the first one\'s in place', () => {
  const { dir, memoDir } = project();
  session(dir, BUILD_A, { set: { k: 'from-a' } });
  assert.equal(session(dir, BUILD_A, { get: ['k', 'other'] }), ['from-a', null]);
  assert.equal(session(dir, BUILD_B, { get: ['k'], set: { k: 'from-b' } }), [null]);
  assert.equal(session(dir, BUILD_A, { get: ['k'] }), ['from-a'], "running the other build threw this one's memo away");
  assert.equal(readdirSync(memoDir).sort(), [`${BUILD_A}.json`, `${BUILD_B}.json`]);
});

test('a run that adds nothing writes nothing; older builds\' memos beyond three are removed', () => {
  const { dir, memoDir } = project();
  session(dir, BUILD_A, { set: { k: 'v' } });
  const file = path.join(memoDir, `${BUILD_A}.json`);
  const before = readFileSync(file, 'utf8');
  utimesSync(file, new Date(1000), new Date(1000));
  session(dir, BUILD_A, { get: ['k'] });
  assert.is(readFileSync(file, 'utf8'), before);
  assert.ok(existsSync(file));
  const builds = ['1111111111111111', '2222222222222222', '3333333333333333', '4444444444444444', '5555555555555555'];
  builds.forEach((b, i) => {
    session(dir, b, { set: { k: b } });
    const f = path.join(memoDir, `${b}.json`);
    utimesSync(f, new Date(2000 + i * 1000), new Date(2000 + i * 1000));
  });
  // The newest build's own, and the three before it; the oldest two (BUILD_A, 1111...) are gone.
  assert.equal(readdirSync(memoDir).sort(), builds.slice(1).map((b) => `${b}.json`).sort());
});

test('a damaged memo, one naming another build, or a build id that is not one, is no memo to read', () => {
  const { dir, memoDir } = project();
  mkdirSync(memoDir, { recursive: true });
  writeFileSync(path.join(memoDir, `${BUILD_A}.json`), '{"build":"aaaa');
  assert.equal(session(dir, BUILD_A, { get: ['k'], set: { k: 'fresh' } }), [null]);
  assert.equal(session(dir, BUILD_A, { get: ['k'] }), ['fresh'], 'the damaged file was replaced');
  writeFileSync(path.join(memoDir, `${BUILD_B}.json`), JSON.stringify({ build: BUILD_A, entries: { k: 'planted' } }));
  assert.equal(session(dir, BUILD_B, { get: ['k'] }), [null]);
  assert.equal(session(dir, '../../etc', { get: ['k'] }), ['no memo']);
});

test('a cache folder in the shared temporary folder is trusted only when it is ours and no one else can write it', () => {
  const shared = path.join(tmpdir(), `snappy-trust-test-${process.pid}`);
  mkdirSync(shared, { recursive: true, mode: 0o700 });
  chmodSync(shared, 0o700);
  assert.ok(trustedCacheDir(shared));
  chmodSync(shared, 0o777);
  assert.not.ok(trustedCacheDir(shared), 'a folder anyone can write is where entries could be planted');
  chmodSync(shared, 0o775);
  assert.not.ok(trustedCacheDir(shared));
  assert.ok(trustedCacheDir(path.join(shared, 'not-made-yet')), 'a folder not made yet is made by us, 0700');
  // Outside the shared temporary folder (a project's node_modules, the user's cache) the user's own permissions rule.
  assert.ok(trustedCacheDir(path.join(ROOT, 'node_modules')));
});

test.run();
