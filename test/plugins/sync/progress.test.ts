// The transfer progress line: on a terminal (a real pty, through util-linux `script`) a long
// push shows files and bytes of the total, the rates, the share done and the time left, and
// clears the line before the summary; off a terminal nothing of the kind is printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, runCli } from '../../helpers/cli.ts';
import { CheckpointLog } from '../../helpers/checkpoints.ts';
import { tmpDir } from '../../helpers/tmp.ts';

const PAGES = 200;

function project() {
  const dir = tmpDir('snappy-progress-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  for (let i = 0; i < PAGES; i++) writeFileSync(path.join(state, 'skills', `s${i}.md`), `---\nname: s${i}\n---\n${'page text '.repeat(50)}${i}\n`);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));
  const args = ['--state', state, '--config', config, '--remote', `file://${path.join(dir, 'remote')}`];
  return { dir, args, env: { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: 'progress-test-key-7d1e4b9a2c6f0e3b8a5d1c7f' } };
}

const hasScript = spawnSync('script', ['--version']).status === 0;
const onTty = hasScript ? test : test.skip;
if (!hasScript) console.log('    SKIPPED: util-linux `script` is not installed; the terminal progress test did not run');

onTty('on a terminal a long push shows rate and time left, like rclone -P, and clears the line before its summary', async () => {
  const p = project();
  const log = new CheckpointLog();
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, BIN, 'run', 'push', ...p.args].map(quote).join(' ');
  // Held after its 5th object until a second has passed, so the line (drawn after a second of
  // transfer) shows while 195 objects are still to go, whatever the machine's speed.
  const env = { ...process.env, ...p.env, ...log.env({ point: 'push:object', n: 5 }) };
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: p.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout!.on('data', (d) => (screen += d));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await log.until((ps) => ps.some((x) => x.point === 'push:object' && x.n === 5), () => undefined);
  await new Promise((r) => setTimeout(r, 1100));
  log.release();
  assert.is(await exit, 0, screen);
  const draws = [...screen.matchAll(/\rpush: (\d+)\/200 files, ([\d.]+ [KM]?B)\/([\d.]+ [KM]?B), ([\d.]+) files\/s, ([\d.]+ [KM]?B)\/s, (\d+)%, ETA (\S+)\x1b\[K/g)];
  assert.ok(draws.length > 0, `a progress line was drawn: ${JSON.stringify(screen)}`);
  const first = draws[0]!;
  assert.ok(Number(first[1]) >= 5 && Number(first[1]) < PAGES, `drawn mid-transfer: ${first[0]}`);
  assert.match(first[3]!, / KB$/, 'the total size of the plan is known');
  assert.ok(Number(first[6]) < 100);
  assert.match(first[7]!, /^(\d+s|\d+m\d\ds|\d+h\d\dm)$/, `time left: ${first[7]}`);
  const summary = screen.indexOf('pushed 200 files');
  const lastDraw = screen.lastIndexOf('\rpush: ');
  assert.ok(summary > lastDraw, screen);
  assert.match(screen.slice(lastDraw, summary), /\x1b\[K\r\x1b\[K/, 'the line is cleared before the summary');
});

test('off a terminal a push and a pull print no progress line, no rate and no time left', async () => {
  const p = project();
  const push = await runCli(['run', 'push', ...p.args], { cwd: p.dir, env: p.env });
  assert.is(push.code, 0, push.stderr);
  const pull = await runCli(['run', 'pull', ...p.args], { cwd: p.dir, env: { ...p.env, SNAPPY_MACHINE_ID: 'm2' } });
  assert.is(pull.code, 0, pull.stderr);
  for (const r of [push, pull]) {
    assert.not.match(r.stderr + r.stdout, /\r|\x1b\[|ETA|files\/s/);
  }
  assert.match(push.stdout, /^pushed 200 files \(/m);
});

test.run();
