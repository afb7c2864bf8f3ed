// Preloaded into every test process by test/run.mjs (`--import`). uvu's own closing lines
// (`Total:` excludes skipped tests; a throwing `before` hook is swallowed and the file still
// exits 0) cannot be trusted to count, so this records, per suite, what really ran and
// writes it as JSON to SNAPPY_TEST_REPORT when the process exits. The runner decides from
// that record and the exit code, never from uvu's text.
import { writeFileSync } from 'node:fs';
import { register } from 'node:module';

const reportPath = process.env.SNAPPY_TEST_REPORT;
// Child processes a test spawns must not overwrite this process's report.
delete process.env.SNAPPY_TEST_REPORT;

const contexts = [];
const record = {
  patched: false,
  queued: [], // suites whose .run() was called: { name, tests, only, skips }
  finished: [], // suites that ran to the end: { name, passed, total, skipped, only }
  hookErrors: [],
};

globalThis.__snappyUvu = {
  loaded() {
    record.patched = true;
  },
  setup(ctx) {
    contexts.push(ctx);
  },
  queued(ctx, name) {
    record.queued.push({ name, tests: ctx.tests.length, only: ctx.only.length, skips: ctx.skips });
  },
  hookError(name, err, test) {
    record.hookErrors.push({ name, test: test || null, message: String(err?.stack ?? err) });
  },
  format(format, test, err, suite) {
    try {
      return format(test, err, suite);
    } catch {
      return `  FAIL ${suite ? `${suite} ` : ''}"${test}"\n    ${String(err?.stack ?? err).split('\n').join('\n    ')}\n`;
    }
  },
  finished(name, passed, total, skipped, only) {
    record.finished.push({ name, passed, total, skipped, only });
  },
};

register('./uvu-hooks.mjs', import.meta.url);

process.on('exit', (code) => {
  if (!reportPath) return;
  // A suite whose tests were registered after its last .run() (or with no .run() at all).
  const neverRun = contexts
    .filter((c) => c.tests.length || c.only.length || c.skips)
    .map((c) => ({ name: c.state.__suite__ ?? '', tests: c.tests.length + c.only.length + c.skips }));
  writeFileSync(reportPath, JSON.stringify({ ...record, neverRun, exitCode: code }));
});
