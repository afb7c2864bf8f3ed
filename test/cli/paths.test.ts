import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const env = { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'paths-key' };

/** A folder with a state holding one page, and a config with only the sync plugin. */
function project(): { dir: string; state: string; config: string } {
  const dir = tmpDir('snappy-paths-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  writeFileSync(path.join(state, 'skills', 'summarize.md'), '---\nname: summarize\n---\nSummarize.\n');
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate', 'regen'] }));
  return { dir, state, config };
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

test('a state dir named with --state that does not exist is exit 2, naming it; nothing is created', async () => {
  const p = project();
  const r = await runCli(['run', 'push', '--state', './typo-dir', '--json'], { cwd: p.dir, env });
  assert.is(r.code, 2, r.stderr);
  const typo = path.join(p.dir, 'typo-dir');
  assert.match(r.stderr, `state dir ${typo} (from --state) does not exist: create it (mkdir -p`);
  assert.match(r.stderr, `or set it up with \`snappy init --state ${JSON.stringify(typo)}\``);
  const out = JSON.parse(r.stdout);
  assert.is(out.error.code, 'E_USAGE');
  assert.is(out.error.details.path, typo);
  assert.not.ok(existsSync(typo), 'no new, empty state');
  assert.not.ok(existsSync(path.join(p.dir, '.snappy-remote')), 'no remote either');
});

test('SNAPPY_STATE is held to the same rule; status on it says so instead of "no eval runs yet"', async () => {
  const p = project();
  const missing = path.join(p.dir, 'nope');
  const r = await runCli(['status'], { cwd: p.dir, env: { ...env, SNAPPY_STATE: missing } });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, `state dir ${missing} (from SNAPPY_STATE) does not exist`);
  assert.not.match(r.stdout, 'no eval runs');
  const lint = await runCli(['lint', 'aggregate', '--state', missing], { cwd: p.dir });
  assert.is(lint.code, 2, lint.stderr);
  assert.match(lint.stderr, `state dir ${missing} (from --state) does not exist`);
});

test('snappy eval starts a state: a named dir that does not exist is created, and it says so', async () => {
  const dir = tmpDir('snappy-paths-');
  const fresh = path.join(dir, 'deep', 'new-state');
  const r = await runCli(['eval', '--skill', 'summarize', '--score', '0.9', '--run-id', 'r1', '--state', fresh, '--json'], { cwd: dir, env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `created state dir ${fresh} (from --state)`);
  assert.is(JSON.parse(r.stdout).ok, true);
  assert.ok(existsSync(path.join(fresh, 'log', 'evals.ndjson')), 'the row is in the new state');
  const again = await runCli(['eval', '--skill', 'summarize', '--score', '0.8', '--run-id', 'r2', '--state', fresh], { cwd: dir, env });
  assert.is(again.code, 0, again.stderr);
  assert.not.match(again.stderr, 'created state dir', 'said once, when it was created');
});

test('the default ./state, not named, keeps working when absent: status reports an empty state', async () => {
  const dir = tmpDir('snappy-paths-');
  const r = await runCli(['status'], { cwd: dir, env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'no eval runs');
});

test('the embedded default remote (.snappy-remote beside the state) is created on first use', async () => {
  const p = project();
  const remote = path.join(p.dir, '.snappy-remote');
  const pull = await runCli(['run', 'pull', '--state', p.state, '--config', p.config], { cwd: p.dir, env });
  assert.is(pull.code, 0, pull.stderr);
  const push = await runCli(['run', 'push', '--state', p.state, '--config', p.config], { cwd: p.dir, env });
  assert.is(push.code, 0, push.stderr);
  assert.ok(files(remote).some((f) => f.endsWith('skills/summarize.md')), `the page is in ${remote}: ${files(remote)}`);
});

test('an explicit file:// remote that does not exist is an error for pull, and is created by push only when its parent exists', async () => {
  const p = project();
  const missing = path.join(p.dir, 'fleet');
  const pull = await runCli(['run', 'pull', '--state', p.state, '--config', p.config, '--remote', `file://${missing}`, '--json'], { cwd: p.dir, env });
  assert.is(pull.code, 2, pull.stderr);
  assert.match(pull.stderr, `remote file://${missing} (from --remote) does not exist`);
  assert.not.match(pull.stderr, 'pulled 0 files');
  assert.is(JSON.parse(pull.stdout).error.details.path, missing);
  assert.not.ok(existsSync(missing));

  const deep = path.join(p.dir, 'no-such-parent', 'fleet');
  const pushDeep = await runCli(['run', 'push', '--state', p.state, '--config', p.config], { cwd: p.dir, env: { ...env, SNAPPY_REMOTE: `file://${deep}` } });
  assert.is(pushDeep.code, 2, pushDeep.stderr);
  assert.match(pushDeep.stderr, `remote file://${deep} (from SNAPPY_REMOTE) does not exist, nor does its parent folder ${path.dirname(deep)}`);
  assert.not.ok(existsSync(path.dirname(deep)), 'no folders scattered about');
  assert.not.ok(existsSync(path.join(p.state, '.snappy')), 'refused before any work');

  const push = await runCli(['run', 'push', '--state', p.state, '--config', p.config, '--remote', `file://${missing}`], { cwd: p.dir, env });
  assert.is(push.code, 0, push.stderr);
  assert.ok(files(missing).some((f) => f.endsWith('skills/summarize.md')));
  const again = await runCli(['run', 'pull', '--state', p.state, '--config', p.config, '--remote', `file://${missing}`], { cwd: p.dir, env });
  assert.is(again.code, 0, again.stderr);
});

test('an unreadable eval log is exit 1 naming the path and the step', async () => {
  const p = project();
  const log = path.join(p.state, 'log', 'evals.ndjson');
  mkdirSync(log, { recursive: true }); // a folder where the log should be: unreadable as a file, even for root
  const r = await runCli(['run', 'aggregate', '--state', p.state, '--config', p.config, '--json'], { cwd: p.dir, env });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `ingest: cannot read ${log}`);
  const out = JSON.parse(r.stdout);
  assert.is(out.error.step, 'ingest');
  assert.is(out.error.details.path, log);
});

test('an unreadable state is exit 1 for status, naming the path, never "no eval runs yet"', async () => {
  const p = project();
  mkdirSync(path.join(p.state, '.snappy'));
  writeFileSync(path.join(p.state, '.snappy', 'pid'), 'a file where the controller records live');
  const r = await runCli(['status', '--state', p.state, '--config', p.config, '--json'], { cwd: p.dir, env });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, path.join(p.state, '.snappy', 'pid'));
  assert.not.match(r.stdout + r.stderr, 'no eval runs');
  assert.is(JSON.parse(r.stdout).error.step, 'status');

  const q = project();
  mkdirSync(path.join(q.state, '.snappy', 'pid'), { recursive: true });
  writeFileSync(path.join(q.state, '.snappy', 'pid', 'summarize.json'), '{"pid": ');
  const torn = await runCli(['status', '--state', q.state, '--config', q.config], { cwd: q.dir, env });
  assert.is(torn.code, 1, torn.stderr);
  assert.match(torn.stderr, `${path.join(q.state, '.snappy', 'pid', 'summarize.json')} is not valid JSON`);
});

test.run();
