#!/usr/bin/env node
// `npm test`: runs every test/**/*.test.ts file in its own Node process (uvu, ESM through
// tsx), two at a time, each under a time limit, then prints `N passed, N failed` as the last
// line. Test files start the servers they need (s3rver, workerd) and stop them.
// Usage: npm test [-- FILTER...]  (substrings of test file paths)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const filters = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.SNAPPY_TEST_FILE_TIMEOUT_MS ?? 8 * 60_000);
const CONCURRENCY = Number(process.env.SNAPPY_TEST_CONCURRENCY ?? 2);

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...find(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = find(path.join(root, 'test'))
  .map((f) => path.relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL'); // leave no server behind
      } catch {}
      const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      let p = Number.isFinite(passed) ? passed : 0;
      let f = Number.isFinite(total) ? total - passed - skipped : 0;
      if (code !== 0 && f === 0) f = 1; // crashed, timed out, or failed outside a test
      resolve({ file, passed: p, failed: f, skipped, code, timedOut, out: clean, ms: Date.now() - t0 });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    const mark = r.failed ? 'FAIL' : 'ok  ';
    process.stdout.write(`${mark} ${r.file}  ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}  (${(r.ms / 1000).toFixed(1)} s)${r.timedOut ? '  TIMED OUT' : ''}\n`);
    if (r.failed || process.env.SNAPPY_TEST_VERBOSE) process.stdout.write(r.out.split('\n').map((l) => `    ${l}`).join('\n') + '\n');
  }
}
await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, worker));
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
if (files.length === 0) process.stdout.write('no test files matched\n');
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
