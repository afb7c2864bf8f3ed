#!/usr/bin/env node
// `npm run mutate [-- [--verbose] ID...]`: applies each source edit of scripts/mutations.mjs, one at a
// time, to a fresh copy of this checkout (its files as git sees them, node_modules linked),
// runs the test files named for it there, and reports whether the suite caught the edit.
// An edit whose search text is not in its file exactly once is STALE: the list no longer
// describes the code, which is an error like a missed mutation. Exit 0 only when every
// mutation was caught. The checkout itself is never touched.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mutations from './mutations.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const verbose = process.argv.includes('--verbose');
const wanted = process.argv.slice(2).filter((a) => a !== '--verbose');
const chosen = mutations.filter((m) => wanted.length === 0 || wanted.some((w) => m.id.includes(w)));
if (chosen.length === 0) {
  console.error(`no mutation matches ${wanted.join(' ')}; ids: ${mutations.map((m) => m.id).join(', ')}`);
  process.exit(2);
}

// Tracked files and new files not ignored: the checkout as it stands, uncommitted edits included.
const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);

function copyCheckout() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-mutant-'));
  for (const f of files) {
    // Linked below, whatever git holds at that path.
    if (f === 'node_modules' || f.startsWith('node_modules/')) continue;
    const to = path.join(dir, f);
    mkdirSync(path.dirname(to), { recursive: true });
    try {
      cpSync(path.join(root, f), to);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err; // deleted in the checkout, not yet in git
    }
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function runTests(dir, filters) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, 'test', 'run.mjs'), ...filters], { cwd: dir, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const results = [];
for (const m of chosen) {
  const t0 = Date.now();
  const dir = copyCheckout();
  try {
    // One edit (`file`, `search`, `replace`), or several (`edits`) that make one fault together.
    const edits = m.edits ?? [{ file: m.file, search: m.search, replace: m.replace }];
    const stale = [];
    const texts = new Map();
    for (const e of edits) {
      const file = path.join(dir, e.file);
      let text = texts.get(file);
      if (text === undefined) {
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          stale.push(`${e.file} does not exist`);
          continue;
        }
      }
      const count = text.split(e.search).length - 1;
      if (count !== 1) {
        stale.push(`search text found ${count} times in ${e.file} (wanted exactly once): ${JSON.stringify(e.search)}`);
        continue;
      }
      texts.set(file, text.replace(e.search, () => e.replace));
    }
    if (stale.length) {
      results.push({ m, verdict: 'STALE', note: stale.join('; ') });
      continue;
    }
    for (const [file, text] of texts) writeFileSync(file, text);
    const { code, out } = await runTests(dir, m.tests);
    const failing = out.split('\n').filter((l) => l.startsWith('FAIL ')).map((l) => l.slice(5).split('  ')[0]);
    const last = out.trimEnd().split('\n').at(-1);
    if (verbose) console.log(out.split('\n').filter((l) => /^(FAIL|ok) |^\s+(FAIL|\S.*\(\w+\)$)/.test(l)).join('\n'));
    results.push(code === 0 ? { m, verdict: 'MISSED', note: last } : { m, verdict: 'caught', note: `${last}; failing: ${failing.join(', ') || '(none: the run itself failed)'}` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const r = results.at(-1);
    console.log(`${r.verdict.padEnd(6)} ${m.id}  (${((Date.now() - t0) / 1000).toFixed(0)} s)  ${r.note}`);
  }
}

const caught = results.filter((r) => r.verdict === 'caught').length;
const missed = results.filter((r) => r.verdict === 'MISSED');
const stale = results.filter((r) => r.verdict === 'STALE');
console.log('');
for (const r of missed) console.log(`missed: ${r.m.id}: ${r.m.why}`);
for (const r of stale) console.log(`stale:  ${r.m.id}: ${r.note}`);
console.log(`mutation score: ${caught}/${results.length} caught${missed.length ? `, ${missed.length} missed` : ''}${stale.length ? `, ${stale.length} stale` : ''}`);
process.exitCode = missed.length || stale.length ? 1 : 0;
