// The identity a machine shows the fleet: a machine id that is a stored pseudonym, and a master
// key strong enough that its public tenant id cannot be reversed by guessing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const STRONG = 'Zx3kR9vQ2mT7wL5pN8cJ4hB6fD1sG0aY_-qwertyu';
const WEAK = 'demo-key';
const WEAK_LINE = /SNAPPY_MASTER_KEY is weak: 8 characters of base64url carry at most 48 bits, fewer than 128/g;

function folder(config: Record<string, unknown> = { builtins: ['aggregate', 'regen', 'sync'] }) {
  const dir = tmpDir('snappy-identity-');
  const state = path.join(dir, 'state');
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify(config));
  const run = (args: string[], env: Record<string, string | undefined> = {}) => runCli([...args, '--state', state], { cwd: dir, env });
  return { dir, state, run };
}

test('ops key refuses a weak master key (exit 2, saying how to make a strong one) unless --allow-weak-key', async () => {
  const f = folder();
  const r = await f.run(['ops', 'key', '--json'], { SNAPPY_MASTER_KEY: WEAK });
  assert.is(r.code, 2, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.ok, false);
  assert.match(out.error.message, 'at most 48 bits, fewer than 128');
  assert.match(out.error.message, 'openssl rand -base64 32');
  assert.not.ok(r.stdout.includes('publicKey'), 'no key was derived');
  const allowed = await f.run(['ops', 'key', '--json', '--allow-weak-key'], { SNAPPY_MASTER_KEY: WEAK });
  assert.is(allowed.code, 0, allowed.stderr);
  assert.is(JSON.parse(allowed.stdout).tenant, 'c48a01f49fd0');
  const strong = await f.run(['ops', 'key', '--json'], { SNAPPY_MASTER_KEY: STRONG });
  assert.is(strong.code, 0, strong.stderr);
  assert.match(JSON.parse(strong.stdout).publicKey, /^[A-Za-z0-9_-]{43}$/);
});

test('every other command warns once per run about a weak key: on stderr, and in the --json object', async () => {
  const f = folder();
  mkdirSync(path.join(f.state, 'log'), { recursive: true });
  writeFileSync(path.join(f.state, 'log', 'evals.ndjson'), '{"ts":1,"skill":"a","score":0.9,"run_id":"r1","ok":true}\n');
  const run = await f.run(['run', 'aggregate', 'push', '--json'], { SNAPPY_MASTER_KEY: WEAK, SNAPPY_MACHINE_ID: 'm1' });
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stderr.match(WEAK_LINE)?.length, 1, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.is(out.warnings.filter((w: string) => w.match(WEAK_LINE)).length, 1);
  const st = await f.run(['status'], { SNAPPY_MASTER_KEY: WEAK, SNAPPY_MACHINE_ID: 'm1' });
  assert.is(st.stderr.match(WEAK_LINE)?.length, 1, st.stderr);
  const ev = await f.run(['eval', '--skill', 'a', '--score', '0.5', '--run-id', 'r2', '--json'], { SNAPPY_MASTER_KEY: WEAK, SNAPPY_MACHINE_ID: 'm1' });
  assert.is(ev.code, 0, ev.stderr);
  assert.is(JSON.parse(ev.stdout).warnings.length, 1);
  const strong = await f.run(['run', 'aggregate', '--json'], { SNAPPY_MASTER_KEY: STRONG, SNAPPY_MACHINE_ID: 'm1' });
  assert.is(strong.code, 0, strong.stderr);
  assert.not.ok(/is weak/.test(strong.stderr), strong.stderr);
  assert.is(JSON.parse(strong.stdout).warnings, undefined);
});

test('with no machine id set, one pseudonym is generated once, stored in .snappy/machine-id and kept; config and SNAPPY_MACHINE_ID beat it', async () => {
  const f = folder({ builtins: ['sync'] });
  const env = { SNAPPY_MASTER_KEY: STRONG };
  const status = async (extra: Record<string, string | undefined> = {}) => JSON.parse((await f.run(['status', '--json'], { ...env, ...extra })).stdout).machine as string;
  assert.is((await f.run(['run', 'pull'], env)).code, 0);
  const file = path.join(f.state, '.snappy', 'machine-id');
  const id = readFileSync(file, 'utf8').trim();
  assert.match(id, /^m-[a-z2-7]{10}$/);
  assert.is.not(id.toLowerCase(), os.hostname().toLowerCase());
  assert.is((await f.run(['run', 'pull'], env)).code, 0);
  assert.is(readFileSync(file, 'utf8').trim(), id, 'the id changed between runs');
  assert.is(await status(), id);
  assert.is(await status({ SNAPPY_MACHINE_ID: 'build-box-1' }), 'build-box-1');
  writeFileSync(path.join(f.dir, 'snappy.config.json'), JSON.stringify({ builtins: ['sync'], machineId: 'from-config' }));
  assert.is(await status(), 'from-config');
  assert.is(await status({ SNAPPY_MACHINE_ID: 'from-env' }), 'from-env');
});

test('machines: overrides key on the stored pseudonym', async () => {
  const f = folder({ builtins: ['sync'] });
  const remoteDir = path.join(tmpDir('snappy-identity-remote-'), 'r');
  mkdirSync(remoteDir);
  const env = { SNAPPY_MASTER_KEY: STRONG, SNAPPY_REMOTE: `file://${remoteDir}` };
  mkdirSync(path.join(f.state, 'notes'), { recursive: true });
  writeFileSync(path.join(f.state, 'notes', 'n.md'), 'a note\n');
  assert.is((await f.run(['run', 'pull'], env)).code, 0);
  const id = readFileSync(path.join(f.state, '.snappy', 'machine-id'), 'utf8').trim();
  const plan = async () => JSON.parse((await f.run(['run', 'push', '--dry-run', '--json'], env)).stdout).reports.push.plan.map((e: { path: string }) => e.path) as string[];
  assert.not.ok((await plan()).includes('notes/n.md'), 'notes/ is outside the default allow list');
  writeFileSync(path.join(f.dir, 'snappy.config.json'), JSON.stringify({ builtins: ['sync'], machines: { [id]: { sync: { allow: ['notes/**'] } } } }));
  assert.ok((await plan()).includes('notes/n.md'), 'the override for this machine\'s pseudonym applied');
});

test('a remote-only tick and read-only commands leave a fresh state dir without a machine id file', async () => {
  const f = folder({ builtins: ['quorum'] });
  const remoteDir = path.join(tmpDir('snappy-identity-tick-'), 'r');
  mkdirSync(remoteDir);
  const remote = `file://${remoteDir}`;
  const tick = await f.run(['run', 'tick', '--remote', remote], {});
  assert.is(tick.code, 0, tick.stderr);
  assert.is((await f.run(['status'], {})).code, 0);
  assert.not.ok(existsSync(path.join(f.state, '.snappy', 'machine-id')));
});

test.run();
