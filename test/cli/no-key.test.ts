import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Two pages and three new eval rows; the aggregate, sync and regen plugins (no regen agent). */
function project(): { dir: string; state: string; remote: string; args: string[] } {
  const dir = tmpDir('snappy-nokey-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  mkdirSync(path.join(state, 'log'));
  writeFileSync(path.join(state, 'skills', 'summarize.md'), '---\nname: summarize\n---\nSummarize.\n');
  writeFileSync(path.join(state, 'skills', 'triage.md'), '---\nname: triage\n---\nTriage.\n');
  const rows = [0.9, 0.8, 0.95].map((score, i) => JSON.stringify({ ts: 1714557600000 + i, skill: 'summarize', score, run_id: `r${i}`, ok: true })).join('\n');
  writeFileSync(path.join(state, 'log', 'evals.ndjson'), `${rows}\n`);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['aggregate', 'sync', 'regen'] }));
  const remote = path.join(dir, 'remote');
  mkdirSync(remote);
  return { dir, state, remote, args: ['--state', state, '--config', config, '--remote', `file://${remote}`] };
}

const keyLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('SNAPPY_MASTER_KEY'));

test('without a master key, everything skipped is said once, in one line, pages and aggregate alike, and listed in --json', async () => {
  const p = project();
  const r = await runCli(['run', 'push', '--auto', '--json', ...p.args], { cwd: p.dir, env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(r.code, 0, r.stderr);
  const lines = keyLines(r.stderr);
  assert.is(lines.length, 1, `one line about the key, got:\n${r.stderr}`);
  const line = lines[0]!;
  assert.match(line, 'aggregating 3 new eval row(s)');
  assert.match(line, 'shipping the aggregate');
  assert.match(line, 'pushing 2 skill page(s) (summarize, triage)');
  assert.match(line, "pulling this tenant's own pages and files");

  const out = JSON.parse(r.stdout);
  const byWhat = Object.fromEntries(out.skipped.map((s: { what: string }) => [s.what, s]));
  assert.equal(Object.keys(byWhat).sort(), ['aggregate', 'aggregate shipping', 'skill pages', 'tenant pull']);
  assert.is(byWhat.aggregate.rows, 3);
  assert.equal(byWhat['skill pages'].paths, ['skills/summarize.md', 'skills/triage.md']);
  assert.ok(out.skipped.every((s: { reason: string }) => s.reason === 'no SNAPPY_MASTER_KEY'));
  assert.equal(out.reports.push.skipped, { reason: 'no SNAPPY_MASTER_KEY', paths: ['skills/summarize.md', 'skills/triage.md'] });
  assert.not.ok(existsSync(path.join(p.remote, 'snappy-tenants')), 'no page pushed');
  assert.not.ok(existsSync(path.join(p.state, 'log', 'evals.aggregate.ndjson')), 'no aggregate made');
});

test('snappy eval without a key says it once too; with a key nothing is skipped and the pages go', async () => {
  const p = project();
  const ev = await runCli(['eval', '--skill', 'triage', '--score', '0.7', '--run-id', 'e1', '--json', ...p.args], { cwd: p.dir, env: { SNAPPY_MACHINE_ID: 'm1' } });
  assert.is(ev.code, 0, ev.stderr);
  assert.is(keyLines(ev.stderr).length, 1, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).skipped, [{ what: 'aggregate', reason: 'no SNAPPY_MASTER_KEY', rows: 4 }]);

  const r = await runCli(['run', 'push', '--auto', '--json', ...p.args], { cwd: p.dir, env: { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'no-key-test-5f2c8e1a9b7d3c6e0f4a8b2d1c9e7f3a' } });
  assert.is(r.code, 0, r.stderr);
  assert.is(keyLines(r.stderr).length, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.skipped, []);
  assert.is(out.reports.push.skipped, undefined);
  const tenants = readdirSync(path.join(p.remote, 'snappy-tenants'));
  assert.equal(readdirSync(path.join(p.remote, 'snappy-tenants', tenants[0]!, 'skills')).sort(), ['summarize.md', 'triage.md']);
  assert.is(out.reports.push.aggregate.rows, 4, 'the rows kept without a key are aggregated and shipped now');
});

test.run();
