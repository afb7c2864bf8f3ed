import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** A project with a state that has work to do: two pages and three new eval rows. */
function project(): { dir: string; state: string; remote: string; env: Record<string, string> } {
  const dir = tmpDir('snappy-usage-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  mkdirSync(path.join(state, 'log'));
  writeFileSync(path.join(state, 'skills', 'summarize.md'), '---\nname: summarize\n---\nSummarize.\n');
  writeFileSync(path.join(state, 'skills', 'triage.md'), '---\nname: triage\n---\nTriage.\n');
  const rows = [0.9, 0.8, 0.95].map((score, i) => JSON.stringify({ ts: 1714557600000 + i, skill: 'summarize', score, run_id: `r${i}`, ok: true })).join('\n');
  writeFileSync(path.join(state, 'log', 'evals.ndjson'), `${rows}\n`);
  return { dir, state, remote: path.join(dir, '.snappy-remote'), env: { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'usage-key-7c1e9a3f5b2d8c4e6a0f1b3d5c7e9a2f' } };
}

/** Every path under `root` with its size and mtime: equal before and after means nothing was written. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir).sort()) {
      const full = path.join(dir, n);
      const st = lstatSync(full);
      out.push(`${path.relative(root, full)} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(root);
  return out;
}

/** The one-line refusal on stderr, and with --json exactly one JSON object on stdout. */
function refusal(r: CliResult, json: boolean): { line: string; out?: any } {
  assert.is(r.code, 2, `exit 2 expected\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  if (!json) {
    assert.is(r.stdout, '', 'no help dumped on stdout');
    return { line: lines[0]! };
  }
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.is(out.exitCode, 2);
  return { line: lines[0]!, out };
}

test('a mistyped flag (--dryrun) on push --auto is refused before any work: nothing pushed, nothing in the state written', async () => {
  const p = project();
  const before = snapshot(p.dir);
  const r = await runCli(['run', 'push', '--auto', '--dryrun', '--json', '--state', p.state], { cwd: p.dir, env: p.env });
  const { line, out } = refusal(r, true);
  assert.match(line, 'unknown flag --dryrun');
  assert.match(line, 'did you mean --dry-run?');
  assert.is(out.error.code, 'E_USAGE');
  assert.is(out.error.details.suggestion, '--dry-run');
  assert.is(out.error.message, line.replace(/^snappy: /, ''));
  assert.equal(snapshot(p.dir), before, 'the project folder is untouched');
  assert.not.ok(existsSync(p.remote), 'no remote created');
});

test('a valued flag given twice (--config a --config b) is refused in one line naming it, before any work', async () => {
  const p = project();
  const before = snapshot(p.dir);
  for (const args of [['run', 'push', '--auto'], ['status']]) {
    const r = await runCli([...args, '--state', p.state, '--config', 'a.json', '--config', 'b.json', '--json'], { cwd: p.dir, env: p.env });
    const { line, out } = refusal(r, true);
    assert.match(line, '--config is given 2 times ("a.json", "b.json"): give it once');
    assert.is(out.error.code, 'E_USAGE');
  }
  assert.equal(snapshot(p.dir), before, 'the project folder is untouched');
});

test('snappy eval with --cost (for --cost-usd) appends nothing and suggests the flag', async () => {
  const p = project();
  const before = snapshot(p.dir);
  const r = await runCli(['eval', '--skill', 'summarize', '--score', '0.5', '--run-id', 'r-9', '--cost', '0.01', '--state', p.state], { cwd: p.dir, env: p.env });
  const { line } = refusal(r, false);
  assert.match(line, 'unknown flag --cost for snappy eval; did you mean --cost-usd?');
  assert.equal(snapshot(p.dir), before, 'no row appended, no ingest run');
});

test('a missing argument is named, and nothing runs: lint without a target, eval without its flags', async () => {
  const p = project();
  const lint = refusal(await runCli(['lint', '--state', p.state], { cwd: p.dir }), false);
  assert.match(lint.line, 'missing <what> for snappy lint');
  assert.match(lint.line, 'snappy lint <what> [files..]');
  const ev = refusal(await runCli(['eval', '--score', '1', '--state', p.state, '--json'], { cwd: p.dir, env: p.env }), true);
  assert.match(ev.line, 'missing --skill and --run-id for snappy eval');
  assert.equal(ev.out.error.details.missing, ['--skill', '--run-id']);
  const noValue = refusal(await runCli(['status', '--state'], { cwd: p.dir, env: p.env }), false);
  assert.match(noValue.line, '--state needs a value');
  assert.not.ok(existsSync(path.join(p.state, '.snappy')), 'nothing ran against the state');
});

test('an invalid choice suggests the closest one', async () => {
  const lint = refusal(await runCli(['lint', 'aggregat']), false);
  assert.match(lint.line, '"aggregat" is not a valid <what> for snappy lint; did you mean "aggregate"?');
  const ops = refusal(await runCli(['ops', 'aprove', 'x', 'y', '--json']), true);
  assert.is(ops.out.error.details.suggestion, 'approve');
});

test('an unknown command names the closest one in one line (no help dump); --json gives one object', async () => {
  const r = refusal(await runCli(['stauts']), false);
  assert.is(r.line, 'snappy: unknown command "stauts"; did you mean "status"? (see snappy --help)');
  const far = refusal(await runCli(['frobnicate', '--json']), true);
  assert.match(far.line, 'the commands are run, eval, status');
  assert.is(far.out.error.details.unknown, 'frobnicate');
  const noCmd = refusal(await runCli(['--jsno']), false);
  assert.match(noCmd.line, 'unknown flag --jsno for snappy; did you mean --json?');
});

test('an unknown task is refused once the plugins are known, before any task runs, with the closest task', async () => {
  const p = project();
  const before = snapshot(p.dir);
  const r = await runCli(['run', 'pull', 'pusj', '--json', '--state', p.state], { cwd: p.dir, env: p.env });
  const { line, out } = refusal(r, true);
  assert.match(line, 'unknown task "pusj"; did you mean "push"?');
  assert.is(out.error.code, 'E_TASK_UNKNOWN');
  assert.is(out.error.details.suggestion, 'push');
  assert.equal(snapshot(p.dir), before, 'pull did not run either');
});

test.run();
