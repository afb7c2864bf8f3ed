import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** A fresh, existing state dir (a state dir named with --state must exist). */
const newState = () => {
  const state = path.join(tmpDir(), 'state');
  mkdirSync(state);
  return state;
};

const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.is(r.code, 0);
  assert.is(r.stdout.trim(), version);
});

test('--version loads neither the S3 client nor the CLI framework', async () => {
  const { spawnSync } = await import('node:child_process');
  const trace = (args: string[]) =>
    spawnSync(process.execPath, ['--import', path.join(ROOT, 'test', 'helpers', 'trace-loads.mjs'), path.join(ROOT, 'bin', 'snappy.cjs'), ...args], { encoding: 'utf8', cwd: ROOT });
  const v = trace(['--version']);
  assert.is(v.status, 0, v.stderr);
  assert.is(v.stdout.trim(), version);
  const loaded = v.stderr.split('\n').filter((l) => l.startsWith('LOAD '));
  assert.ok(loaded.some((l) => l.includes('bin/snappy.cjs')), 'the trace sees the entry');
  // The CLI itself (built or from the sources) carries the argument parser, zod and tapable when built.
  for (const heavy of ['@aws-sdk', 'yargs', 'tsx', 'zod', 'tapable', 'dist/cli.js', 'cli/main.ts']) {
    assert.not.ok(loaded.some((l) => l.includes(heavy)), `--version loaded ${heavy}`);
  }
  // The trace does catch them when they load: `status` loads the CLI and its framework.
  const s = trace(['status', '--json', '--state', newState()]);
  assert.ok(/dist\/cli\.js|cli\/main\.ts/.test(s.stderr) && /dist\/cli\.js|yargs/.test(s.stderr), 'the trace would have seen the CLI and yargs');
  assert.not.ok(s.stderr.includes('@aws-sdk'), 'status on a file remote must not load the S3 client');
});

test('--help teaches: commands, global flags, environment and exit codes', async () => {
  const r = await runCli(['--help']);
  assert.is(r.code, 0);
  for (const s of ['run <task..>', 'eval', 'status', '--state', '--remote', '--json', 'SNAPPY_MASTER_KEY', 'Exit codes']) assert.match(r.stdout, s);
  const run = await runCli(['run', '--help']);
  assert.match(run.stdout, 'push --auto');
});

test('an unknown command is a usage error: exit 2', async () => {
  const r = await runCli(['frobnicate']);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'frobnicate');
});

test('an unknown task exits 2 and lists the tasks the configured plugins provide', async () => {
  const r = await runCli(['run', 'frobnicate', '--state', newState(), '--json'], { env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r.code, 2, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.is(out.error.code, 'E_TASK_UNKNOWN');
  assert.match(out.error.message, 'ingest');
});

test('an invalid machine id is a config error', async () => {
  const r = await runCli(['status', '--state', newState()], { env: { SNAPPY_MACHINE_ID: '../etc' } });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'SNAPPY_MACHINE_ID');
});

test('snappy eval refuses a bad row with exit 2 and appends nothing', async () => {
  const state = newState();
  const r = await runCli(['eval', '--skill', '../x', '--score', '0.5', '--run-id', 'r', '--state', state], { env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'skill');
  const r2 = await runCli(['eval', '--skill', 'ok', '--score', '1.5', '--run-id', 'r', '--state', state], { env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r2.code, 2);
  assert.match(r2.stderr, 'score');
  const { existsSync } = await import('node:fs');
  assert.not.ok(existsSync(path.join(state, 'log', 'evals.ndjson')));
});

test('snappy eval appends one well-formed row', async () => {
  const state = newState();
  const r = await runCli(['eval', '--skill', 'summarize', '--score', '0.75', '--run-id', 'r-1', '--no-ok', '--cost-usd', '0.015', '--state', state, '--json'], { env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, true);
  const lines = readFileSync(path.join(state, 'log', 'evals.ndjson'), 'utf8').trim().split('\n');
  assert.is(lines.length, 1);
  const row = JSON.parse(lines[0]!);
  assert.equal({ skill: row.skill, score: row.score, run_id: row.run_id, ok: row.ok, cost_usd: row.cost_usd }, { skill: 'summarize', score: 0.75, run_id: 'r-1', ok: false, cost_usd: 0.015 });
  assert.ok(!Number.isNaN(Date.parse(row.ts)));
});

test.run();
