#!/usr/bin/env node
// `npm test`: runs every test/**/*.test.ts file in its own Node process (uvu, ESM through
// tsx), two at a time, each under a time limit, then prints `N passed, N failed` (and
// `, N skipped`) as the last line and exits 1 on any failure. Test files start the servers
// they need (s3rver, workerd) and stop them.
//
// The counts come from what each process records about itself (test/run/uvu-report.mjs),
// not from uvu's closing text: uvu's `Total:` leaves out skipped tests, hides a throwing
// `before` hook and says nothing of `.only` or of a suite that never called `.run()`.
// A file fails when a test failed, when it used `.only`, ran no test at all, left a suite
// unrun or unfinished, timed out, or exited non-zero.
//
// Usage: npm test [-- FILTER...]  (substrings of test file paths)
// SNAPPY_TEST_DIR (default `test`) is the folder searched; folders named `fixtures` below it
// are not. SNAPPY_TEST_CONCURRENCY (default 2), SNAPPY_TEST_FILE_TIMEOUT_MS (default 8 min),
// SNAPPY_TEST_VERBOSE=1 prints every file's output.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const filters = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.SNAPPY_TEST_FILE_TIMEOUT_MS ?? 8 * 60_000);
const CONCURRENCY = Number(process.env.SNAPPY_TEST_CONCURRENCY ?? 2);
const testDir = path.resolve(root, process.env.SNAPPY_TEST_DIR ?? 'test');
const PRELOAD = path.join(root, 'test', 'run', 'uvu-report.mjs');

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'fixtures' && name !== 'node_modules') out.push(...find(full));
    } else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = find(testDir)
  .map((f) => path.relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const reportDir = mkdtempSync(path.join(os.tmpdir(), 'snappy-test-reports-'));
process.on('exit', () => rmSync(reportDir, { recursive: true, force: true }));

/** Reads a test process's own record and turns it into counts and the reasons it failed. */
function judge({ report, code, signal, timedOut }) {
  const problems = []; // each is one failure on top of the failed tests
  const notes = [];
  let passed = 0;
  let notPassed = 0;
  let skipped = 0;
  if (timedOut) problems.push(`timed out after ${FILE_TIMEOUT_MS / 1000} s and was killed`);
  if (!report) {
    if (!timedOut) problems.push('the test process left no report: it died before it could write one');
    return { passed, failed: problems.length, skipped, problems, notes };
  }
  for (const s of report.finished) {
    passed += s.passed;
    notPassed += s.total - s.passed;
    skipped += s.skipped;
  }
  const label = (name) => (name ? `suite "${name}"` : 'the default suite');
  for (const q of report.queued) if (q.only) problems.push(`${label(q.name)} uses .only: ${q.tests} other test(s) did not run`);
  for (const h of report.hookErrors) {
    const where = h.test ? `test "${h.test}" of ${label(h.name)} (in an after.each hook)` : `a before/after hook of ${label(h.name)}`;
    const line = `${where} threw: ${h.message.split('\n')[0]}`;
    if (notPassed) notes.push(line);
    else problems.push(line);
  }
  for (const n of report.neverRun) problems.push(`${label(n.name)} registered ${n.tests} test(s) but never ran them (no .run() after them)`);
  const unfinished = report.queued.length - report.finished.length;
  if (unfinished > 0) problems.push(`${unfinished} suite(s) started but never finished: the process exited early`);
  if (report.queued.length && !report.patched) problems.push('uvu ran without the counting hooks');
  const registered = report.queued.reduce((a, q) => a + q.tests + q.only + q.skips, 0) + report.neverRun.length;
  if (registered === 0) problems.push('ran no tests');
  if ((code !== 0 || signal) && notPassed === 0 && problems.length === 0) problems.push(`exited with ${signal ?? `code ${code}`} although every test passed`);
  return { passed, failed: notPassed + problems.length, skipped, problems, notes };
}

function runFile(file, index) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const reportPath = path.join(reportDir, `${index}.json`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', PRELOAD, file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', SNAPPY_TEST_REPORT: reportPath },
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
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL'); // leave no server behind
      } catch {}
      let report = null;
      if (existsSync(reportPath)) {
        try {
          report = JSON.parse(readFileSync(reportPath, 'utf8'));
        } catch {}
      }
      const verdict = judge({ report, code, signal, timedOut });
      resolve({ file, ...verdict, out: out.replace(/\x1b\[[0-9;]*m/g, ''), ms: Date.now() - t0 });
    });
  });
}

const counts = (r) => `${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}`;

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const index = next++;
    const r = await runFile(files[index], index);
    results.push(r);
    let text = `${r.failed ? 'FAIL' : 'ok  '} ${r.file}  ${counts(r)}  (${(r.ms / 1000).toFixed(1)} s)\n`;
    for (const p of r.problems) text += `    ! ${p}\n`;
    for (const n of r.notes) text += `    ! ${n}\n`;
    if (r.failed || process.env.SNAPPY_TEST_VERBOSE) text += r.out.split('\n').map((l) => `    ${l}`).join('\n') + '\n';
    process.stdout.write(text);
  }
}
await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, worker));
const total = {
  passed: results.reduce((a, r) => a + r.passed, 0),
  failed: results.reduce((a, r) => a + r.failed, 0),
  skipped: results.reduce((a, r) => a + r.skipped, 0),
};
if (files.length === 0) process.stdout.write('no test files matched\n');
const failedFiles = results.filter((r) => r.failed).map((r) => r.file).sort();
if (failedFiles.length) process.stdout.write(`failed files:\n${failedFiles.map((f) => `  ${f}\n`).join('')}`);
process.stdout.write(`${counts(total)}\n`);
process.exitCode = total.failed > 0 || files.length === 0 ? 1 : 0;
