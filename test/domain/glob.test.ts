import { test } from 'uvu';
import * as assert from 'uvu/assert';
import picomatch from 'picomatch/posix.js';
import { GlobList, globProblem } from '../../domain/glob.ts';
import { prng } from '../helpers/prng.ts';

const m = (globs: string[], p: string) => new GlobList(globs).matches(p);

test('a brace of globs matches each of its alternatives, where the old matcher threw "Invalid regular expression"', () => {
  assert.ok(m(['skills/{*.md,*.txt}'], 'skills/a.md'));
  assert.ok(m(['skills/{*.md,*.txt}'], 'skills/b.txt'));
  assert.not.ok(m(['skills/{*.md,*.txt}'], 'skills/c.json'));
  assert.not.ok(m(['skills/{*.md,*.txt}'], 'skills/x/a.md'), '* stays inside one segment');
});

test('[ab] is a character class, not the literal text "[ab]"', () => {
  assert.ok(m(['log/[ab].txt'], 'log/a.txt'));
  assert.ok(m(['log/[ab].txt'], 'log/b.txt'));
  assert.not.ok(m(['log/[ab].txt'], 'log/c.txt'));
  assert.ok(m(['v[0-9]'], 'v7'));
});

test('!x excludes: alone it matches everything but x; in a list it takes its paths out of the others', () => {
  assert.not.ok(m(['!x'], 'x'));
  assert.ok(m(['!x'], 'y'));
  const list = ['deploy-*', 'release-*', '!deploy-docs'];
  assert.ok(m(list, 'deploy-prod'));
  assert.ok(m(list, 'release-1'));
  assert.not.ok(m(list, 'deploy-docs'));
  assert.not.ok(m(list, 'triage'));
  assert.not.ok(m(['!a', '!b'], 'a'));
  assert.ok(m(['!a', '!b'], 'c'));
  assert.ok(m(['!(a|b)'], 'c'), '!(...) is an extglob, read by the matcher itself');
  assert.not.ok(m(['!(a|b)'], 'a'));
});

test('an empty list matches nothing; dot files match like others; ./ and a trailing / are understood', () => {
  assert.not.ok(m([], 'a'));
  assert.ok(m(['notes/**'], 'notes/.hidden'));
  assert.ok(m(['*'], '.profile'));
  assert.ok(m(['./skills/*.md'], 'skills/a.md'));
  assert.ok(m(['notes/'], 'notes/a/b.md'));
  assert.not.ok(m(['notes/'], 'notesx/a'));
});

test('a glob that cannot compile is named as such; a usable one is not', () => {
  assert.match(globProblem('skills/[ab.md') ?? '', /Missing closing: "\]"/);
  assert.match(globProblem('skills/{a,b.md') ?? '', /Missing closing: "\}"/);
  assert.is(globProblem('!'), 'an empty pattern');
  assert.is(globProblem('skills/{*.md,*.txt}'), null);
});

test('plain globs (a/b, a/*.md, a/*, a/**, a/) are matched without picomatch, exactly as picomatch would: 40,000 random paths', () => {
  // What compile() in domain/glob.ts does with picomatch for every glob, as the reference.
  const reference = (glob: string) => {
    let g = glob.replace(/^(\.\/)+/, '');
    if (g.endsWith('/')) g += '**';
    const re = picomatch.makeRe(g, { dot: true, strictBrackets: true });
    return (p: string) => p !== '' && (p === g || re.test(p));
  };
  const rnd = prng(20261201);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const SEGMENTS = ['a', 'b', 'skills', 'x.md', '.md', '.', '..', '.a', 'a.md', 'md', 'a-b_c', '', 'staging', 'log'];
  const pathOf = () => {
    const n = 1 + Math.floor(rnd() * 4);
    let p = Array.from({ length: n }, () => pick(SEGMENTS)).join('/');
    if (rnd() < 0.1) p = `/${p}`;
    if (rnd() < 0.15) p = `${p}/`;
    return p;
  };
  const DIRS = ['a', 'skills', 'a/b', 'log/regen-queue', 'x.md', 'a-b_c/.a', 'staging'];
  const LASTS = ['*', '*.md', '*md', '*.', '**', 'x.md', 'b'];
  const globs = ['skills/*.md', 'log/evals.aggregate.ndjson', 'log/regen-queue/*', 'staging/**', 'notes/', './skills/*.md', 'a', 'a/..', 'a/./b'];
  for (let i = 0; i < 60; i++) globs.push(`${pick(DIRS)}/${pick(LASTS)}`);
  let checked = 0;
  for (const g of globs) {
    const ours = new GlobList([g]);
    const ref = reference(g);
    for (let i = 0; i < 600; i++) {
      const p = pathOf();
      assert.is(ours.matches(p), ref(p), `${JSON.stringify(g)} on ${JSON.stringify(p)}`);
      checked++;
    }
  }
  assert.ok(checked >= 40_000);
});

test.run();
