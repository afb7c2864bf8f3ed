import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, spawnCli } from '../helpers/cli.ts';
import { AGENTS, fill, rows, sandbox } from '../plugins/regen/_util.ts';

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('snappy watch reloads its config when the file changes, and keeps the last good one when an edit breaks it', async () => {
  const sb = sandbox({ regen: {} });
  const configFile = path.join(sb.cwd, 'snappy.config.json');
  const child = spawnCli(['watch', '--state', sb.state, '--poll', '0', '--debounce', '50'], { cwd: sb.cwd, env: { SNAPPY_MACHINE_ID: 'm1' } });
  const done = collect(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await until('watch to start', () => out.includes('watching'));

  // No agent configured: the marker drops, the brief is written, the marker stays.
  sb.append(rows('reloaded', fill(6, 0.3)));
  await until('the marker', () => existsSync(path.join(sb.state, 'ready', 'reloaded.ready')));
  await until('the brief', () => existsSync(path.join(sb.state, 'log', 'regen-queue', 'reloaded.m1.md')));

  // A broken edit: reported, watch goes on with the previous config.
  writeFileSync(configFile, '{ "regen": { "agent": ');
  await until('the reload error', () => err.includes('config not reloaded'));
  assert.ok(existsSync(path.join(sb.state, 'ready', 'reloaded.ready')), 'the marker is still there');

  // A good edit adds the agent: watch reloads and the waiting marker is regenerated.
  writeFileSync(configFile, JSON.stringify({ regen: { agent: [process.execPath, path.join(AGENTS, 'good.mjs')] } }));
  await until('the reload', () => out.includes('reloaded'));
  const staged = () => (existsSync(path.join(sb.state, 'staging', 'reloaded')) ? readdirSync(path.join(sb.state, 'staging', 'reloaded')) : []);
  await until('a staged rev after the reload', () => staged().length === 1);

  child.kill('SIGTERM');
  const r = await done;
  assert.is(r.code, 0, `watch exited with ${r.code}: ${r.stderr}`);
});

test.run();
