import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { AGENTS, fill, rows, sandbox } from './_util.ts';

/** Waits until `check()` holds, polling; fails naming `what` after `ms` (a deadline, not a measurement). */
async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('snappy watch reacts to appended rows and to new markers at once, and stops cleanly on SIGTERM', async () => {
  const sb = sandbox({ regen: { agent: [process.execPath, path.join(AGENTS, 'good.mjs')] } });
  const child = spawnCli(['watch', '--state', sb.state, '--poll', '0'], { cwd: sb.cwd, env: { SNAPPY_MACHINE_ID: 'm1' } });
  const done = collect(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await until('watch to start', () => out.includes('watching'));
  const revs = (skill: string) => (existsSync(path.join(sb.state, 'staging', skill)) ? readdirSync(path.join(sb.state, 'staging', skill)) : []);

  // New eval rows: the watch ingests them, the PID loop drops a marker, the regen stages a rev.
  sb.append(rows('watched', fill(6, 0.4)));
  await until('a staged rev of "watched"', () => revs('watched').length === 1);
  await until('the marker of "watched" to go', () => !existsSync(path.join(sb.state, 'ready', 'watched.ready')));

  // A marker made by someone else: handled at once too.
  mkdirSync(path.join(sb.state, 'ready'), { recursive: true });
  writeFileSync(path.join(sb.state, 'ready', 'byhand.ready'), '');
  await until('a staged rev of "byhand"', () => revs('byhand').length === 1);

  child.kill('SIGTERM');
  const r = await done;
  assert.is(r.code, 0, `watch exited with ${r.code} ${r.signal}: ${r.stderr}`);
  assert.match(r.stdout, /stopped after \d+ pass/);
  assert.not.ok(existsSync(path.join(sb.state, '.snappy', 'lock')), 'the state lock was left behind');
  const st = await sb.status();
  assert.is(st.skills.watched!.runs, 6);
});

test.run();
