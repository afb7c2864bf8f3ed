import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/cli.ts';

// Runs `npm test`'s runner on the fixture files in test/run/fixtures, each one a way a test
// file can pass, fail or try to look green.
function runner(...filters: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'run.mjs'), ...filters], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SNAPPY_TEST_DIR: 'test/run/fixtures', SNAPPY_TEST_CONCURRENCY: '2' },
    timeout: 120_000,
  });
  const lines = r.stdout.trimEnd().split('\n');
  const fileLine = (name: string) => {
    const line = lines.find((l) => l.includes(`test/run/fixtures/${name}.test.ts`) && /^(ok|FAIL)/.test(l));
    assert.ok(line, `no line for ${name} in:\n${r.stdout}`);
    return line!.replace(/\s+\(\d+\.\d s\)$/, '');
  };
  return { code: r.status, last: lines.at(-1), out: r.stdout, fileLine };
}

const cases: Array<[string, string, RegExp?]> = [
  ['pass', 'ok   test/run/fixtures/pass.test.ts  2 passed, 0 failed'],
  ['fail', 'FAIL test/run/fixtures/fail.test.ts  1 passed, 1 failed'],
  ['skip', 'ok   test/run/fixtures/skip.test.ts  0 passed, 0 failed, 1 skipped'],
  ['empty', 'FAIL test/run/fixtures/empty.test.ts  0 passed, 1 failed', /! ran no tests/],
  ['only', 'FAIL test/run/fixtures/only.test.ts  1 passed, 1 failed, 1 skipped', /uses \.only: 1 other test\(s\) did not run/],
  ['no-run', 'FAIL test/run/fixtures/no-run.test.ts  0 passed, 1 failed', /registered 1 test\(s\) but never ran them/],
  ['second-suite-unrun', 'FAIL test/run/fixtures/second-suite-unrun.test.ts  1 passed, 1 failed', /suite "b" registered 1 test\(s\) but never ran them/],
  ['before-throws', 'FAIL test/run/fixtures/before-throws.test.ts  0 passed, 2 failed', /a before\/after hook of suite "setup fails" threw: Error: the server did not start/],
  ['odd-error', 'FAIL test/run/fixtures/odd-error.test.ts  1 passed, 1 failed', /the bucket said no/],
  ['exits-early', 'FAIL test/run/fixtures/exits-early.test.ts  0 passed, 1 failed', /never finished: the process exited early/],
];

for (const [name, line, reason] of cases) {
  test(`${name}: counted exactly, and the exit code says whether it failed`, () => {
    const r = runner(`/${name}.test.ts`);
    assert.is(r.fileLine(name), line);
    const counts = /\d+ passed.*$/.exec(line)![0];
    assert.is(r.last, counts);
    assert.is(r.code, line.startsWith('ok') ? 0 : 1, r.out);
    if (reason) assert.match(r.out, reason);
  });
}

test('a skipped file beside a failing one cannot cancel the failure out', () => {
  const r = runner('/fail.test.ts', '/skip.test.ts');
  assert.is(r.last, '1 passed, 1 failed, 1 skipped');
  assert.is(r.code, 1);
});

test('all fixtures at once: the totals are the sums of the files', () => {
  const r = runner();
  assert.is(r.last, '6 passed, 9 failed, 2 skipped');
  assert.is(r.code, 1);
  for (const [name, line] of cases) assert.is(r.fileLine(name), line);
});

test('only passing and skipped files: exit 0', () => {
  const r = runner('/pass.test.ts', '/skip.test.ts');
  assert.is(r.last, '2 passed, 0 failed, 1 skipped');
  assert.is(r.code, 0);
});

test('no file matched: exit 1', () => {
  const r = runner('no-such-file');
  assert.is(r.last, '0 passed, 0 failed');
  assert.match(r.out, /no test files matched/);
  assert.is(r.code, 1);
});

test.run();
