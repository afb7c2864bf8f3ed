// The lifecycle fires its hooks whichever plugins are configured, and says so when a step has
// no plugin to do its work: through the real CLI, on real state dirs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const env = { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'lifecycle-test-key-0123456789abcdefghijkl' };

/** A project with a state holding one page and one hand-made marker, and a config of `builtins` (+ plugins). */
function project(config: Record<string, unknown>, extra: Record<string, string> = {}): { dir: string; state: string; config: string } {
  const dir = tmpDir('snappy-lifecycle-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  mkdirSync(path.join(state, 'ready'), { recursive: true });
  writeFileSync(path.join(state, 'skills', 'summarize.md'), '---\nname: summarize\n---\nSummarize.\n');
  writeFileSync(path.join(state, 'ready', 'summarize.ready'), '');
  for (const [f, body] of Object.entries(extra)) writeFileSync(path.join(dir, f), body);
  const file = path.join(dir, 'snappy.config.json');
  writeFileSync(file, JSON.stringify(config));
  return { dir, state, config: file };
}

const run = (p: { dir: string; state: string; config: string }, args: string[]) => runCli([...args, '--state', p.state, '--config', p.config], { cwd: p.dir, env });

test('snappy run push without a transport is refused before any work, naming what is missing', async () => {
  const p = project({ builtins: ['aggregate', 'regen'] });
  const r = await run(p, ['run', 'push', '--json']);
  assert.is(r.code, 2, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.error.code, 'E_USAGE');
  assert.match(out.error.message, 'push needs a transport');
  assert.match(out.error.message, 'the sync plugin is not configured');
  assert.not.ok(existsSync(path.join(p.dir, '.snappy-remote')), 'no remote made');
  assert.not.ok(existsSync(path.join(p.state, 'log', 'evals.aggregate.ndjson')), 'no ingest ran');
});

test('push --auto without a transport runs what it can and says which steps it skipped', async () => {
  const p = project({ builtins: ['aggregate'] });
  const r = await run(p, ['run', 'push', '--auto', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.tasks, ['pull', 'ingest', 'regen', 'push']);
  assert.match(out.reports.pull.skipped, 'pull needs a transport');
  assert.match(out.reports.push.skipped, 'push needs a transport');
  assert.match(r.stderr, 'push: skipped: push needs a transport');
});

test('markers waiting with nothing tapping onReady: said, and the markers are kept', async () => {
  const p = project({ builtins: ['aggregate', 'sync'] });
  const r = await run(p, ['run', 'regen', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, '1 ready marker(s) wait (summarize), but no plugin taps onReady (the regen plugin is not configured): markers kept');
  assert.match(JSON.parse(r.stdout).reports.regen.skipped, 'no plugin taps onReady');
  assert.ok(existsSync(path.join(p.state, 'ready', 'summarize.ready')));
});

test('onReady fires for a third-party plugin with the regen built-in off, and what it settles is reported', async () => {
  const plugin = `export default { name: 'ready-counter', apply(hooks) { hooks.onReady.tapPromise('ready-counter', async (run, ev) => { ev.settle({ skill: ev.skill, outcome: 'counted', stateDir: run.stateDir }); }); } };\n`;
  const p = project({ builtins: ['aggregate', 'sync'], plugins: ['./ready-counter.mjs'] }, { 'ready-counter.mjs': plugin });
  const r = await run(p, ['run', 'regen', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).reports.regen.outcomes, [{ skill: 'summarize', outcome: 'counted', stateDir: p.state }]);
});

test('a failed outcome fails snappy run regen unless --auto; the markers stay', async () => {
  const plugin = `export default { name: 'ready-fails', apply(hooks) { hooks.onReady.tapPromise('ready-fails', async (_run, ev) => { ev.settle({ skill: ev.skill, outcome: 'failed', failed: true, error: 'no agent today' }); }); } };\n`;
  const p = project({ builtins: ['aggregate', 'sync'], plugins: ['./ready-fails.mjs'] }, { 'ready-fails.mjs': plugin });
  const r = await run(p, ['run', 'regen', '--json']);
  assert.is(r.code, 1, r.stderr);
  assert.match(JSON.parse(r.stdout).error.message, 'regen failed for summarize (no agent today); markers kept');
  const auto = await run(p, ['run', 'regen', '--auto', '--json']);
  assert.is(auto.code, 0, auto.stderr);
  assert.equal(readdirSync(path.join(p.state, 'ready')), ['summarize.ready']);
});

test('snappy run tick with nothing tapping onTick is refused, naming the missing plugin', async () => {
  const p = project({ builtins: ['aggregate', 'sync'] });
  const r = await run(p, ['run', 'tick', '--json']);
  assert.is(r.code, 2, r.stderr);
  assert.match(JSON.parse(r.stdout).error.message, 'no configured plugin taps onTick (the quorum plugin is not configured');
});

test.run();
