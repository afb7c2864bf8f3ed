// The state dir carries its version: one written by the release before versions is migrated on
// the first run that writes it, losing and repeating nothing; one written by a newer release is
// refused before any work; a changed master key is noticed and kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { RELEASE, STATE } from '../../domain/versions.ts';

const FIXTURE = path.join(ROOT, 'test/fixtures/state-v1');
const KEY = 'fixture-master-key-v1-0123456789abcdefghijklmnopqrstuv';
const TENANT = 'ed1dbe104b09';
const OTHER_KEY = 'Zx3kR9vQ2mT7wL5pN8cJ4hB6fD1sG0aY_-qwertyu';

/** A copy of the fixture: the state dir and its remote, as the release before versions left them. */
function copy() {
  const dir = tmpDir('snappy-statever-');
  cpSync(FIXTURE, dir, { recursive: true });
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({}));
  const state = path.join(dir, 'state');
  const remote = `file://${path.join(dir, 'remote')}`;
  const run = (args: string[], env: Record<string, string | undefined> = {}) => runCli([...args, '--state', state, ...(args[0] === 'run' || args[0] === 'status' ? ['--remote', remote] : [])], { cwd: dir, env: { SNAPPY_MASTER_KEY: KEY, ...env } });
  return { dir, state, remote: path.join(dir, 'remote'), run };
}

const marker = (state: string) => JSON.parse(readFileSync(path.join(state, '.snappy/state.json'), 'utf8'));
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
function remoteRows(remote: string): string[] {
  const dir = path.join(remote, 'snappy-agg', TENANT);
  return readdirSync(dir).flatMap((f) => lines(path.join(dir, f)));
}

test('a read-only command reads a state dir of the release before versions without writing a marker', async () => {
  const f = copy();
  const r = await f.run(['status', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).skills.summarize.runs, 25, 'the old PID state is read as it is');
  assert.not.ok(existsSync(path.join(f.state, '.snappy/state.json')), 'status wrote nothing');
});

test('the first push --auto of this release migrates the fixture: marker written with the tenant, nothing re-ingested or re-aggregated, the unshipped row shipped once', async () => {
  const f = copy();
  const aggBefore = lines(path.join(f.state, 'log/evals.aggregate.ndjson'));
  const pidBefore = JSON.parse(readFileSync(path.join(f.state, '.snappy/pid/triage.json'), 'utf8')).pid.runs;
  assert.is(aggBefore.length, 49);
  assert.is(remoteRows(f.remote).length, 48, 'the fixture shipped 48 rows, one waits');

  const r = await f.run(['run', 'push', '--auto', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `migrated from state version 1 to ${STATE}`);
  const out = JSON.parse(r.stdout);
  assert.is(out.reports.ingest?.rows ?? 0, 0, 'no eval row was ingested again');
  const m = marker(f.state);
  assert.is(m.v, STATE);
  assert.is(m.tenant, TENANT, 'the tenant the old state belonged to, found in its own aggregate rows');
  assert.equal(m.formerTenants, []);
  assert.is(m.release, RELEASE);
  assert.is(m.migrated.from, 1);
  console.log(`[state-version] migration of the fixture took ${m.migrated.ms} ms`);

  const aggAfter = lines(path.join(f.state, 'log/evals.aggregate.ndjson'));
  assert.is(aggAfter.length, 49, 'the aggregate neither lost nor repeated a row');
  assert.is(new Set(aggAfter).size, 49);
  assert.is(JSON.parse(readFileSync(path.join(f.state, '.snappy/pid/triage.json'), 'utf8')).pid.runs, pidBefore, 'the PID loop saw no row twice');
  const shipped = remoteRows(f.remote);
  assert.is(shipped.length, 49, 'the row the old release left unshipped went out, once');
  assert.is(new Set(shipped.map((l) => JSON.parse(l).run_id)).size, 49);

  const again = await f.run(['run', 'push', '--auto', '--json']);
  assert.is(again.code, 0, again.stderr);
  assert.not.match(again.stderr, 'migrated');
  assert.equal(marker(f.state), m, 'a second run changes nothing');
  assert.is(remoteRows(f.remote).length, 49);
});

test('a state dir of a newer state version is refused before any work by every command (exit 2, E_VERSION naming both versions)', async () => {
  const f = copy();
  writeFileSync(path.join(f.state, '.snappy/state.json'), JSON.stringify({ v: STATE + 1, tenant: TENANT, formerTenants: [], release: '9.0.0', since: new Date().toISOString() }));
  const evalsBefore = readFileSync(path.join(f.state, 'log/evals.ndjson'), 'utf8');
  for (const args of [['run', 'push', '--auto', '--json'], ['status', '--json'], ['eval', '--skill', 'summarize', '--score', '0.9', '--run-id', 'x', '--json'], ['doctor', '--json']]) {
    const r = await f.run(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    assert.is(out.error.code, 'E_VERSION', args.join(' '));
    assert.match(out.error.message, `state version ${STATE + 1}, written by snappy 9.0.0`);
    assert.match(out.error.message, `knows state versions up to ${STATE}`);
  }
  assert.is(readFileSync(path.join(f.state, 'log/evals.ndjson'), 'utf8'), evalsBefore, 'eval appended nothing');
  assert.is(remoteRows(f.remote).length, 48, 'nothing was shipped');
});

test('a malformed marker is a config error naming the file', async () => {
  const f = copy();
  writeFileSync(path.join(f.state, '.snappy/state.json'), '{"v": "two"}');
  const r = await f.run(['status']);
  assert.is(r.code, 2);
  assert.match(r.stderr, '.snappy/state.json: "v" must be a state version');
});

test('a changed master key is noticed: the marker keeps the former tenant and the run says how to link the two', async () => {
  const f = copy();
  assert.is((await f.run(['run', 'push', '--auto'])).code, 0);
  const r = await f.run(['run', 'push', '--auto', '--json'], { SNAPPY_MASTER_KEY: OTHER_KEY });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `it was tenant ${TENANT}'s, it is now tenant`);
  assert.match(r.stderr, `snappy ops rotate ${TENANT} `);
  const m = marker(f.state);
  assert.is(m.formerTenants[0], TENANT);
  assert.is.not(m.tenant, TENANT);
  const quiet = await f.run(['run', 'push', '--auto'], { SNAPPY_MASTER_KEY: OTHER_KEY });
  assert.not.match(quiet.stderr, 'SNAPPY_MASTER_KEY changed', 'said once');
});

test('a fresh state dir gets the current marker, with no migration', async () => {
  const dir = tmpDir('snappy-statever-fresh-');
  writeFileSync(path.join(dir, 'snappy.config.json'), '{}');
  const state = path.join(dir, 'new-state');
  const r = await runCli(['eval', '--skill', 'a', '--score', '0.5', '--run-id', '1', '--state', state], { cwd: dir, env: { SNAPPY_MASTER_KEY: OTHER_KEY } });
  assert.is(r.code, 0, r.stderr);
  const m = marker(state);
  assert.is(m.v, STATE);
  assert.is(m.migrated, undefined);
  assert.not.match(r.stderr, 'migrated');
});

test('RELEASE names the version in package.json (the Worker, which cannot read it, states it)', () => {
  assert.is(RELEASE, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});

test.run();
