import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectExit, fill, rows, sandbox, T0 } from './_util.ts';

// The PID loop through real processes: rows reach it through `snappy eval` or appended to
// log/evals.ndjson by another program, and `snappy run regen` (no agent configured) ingests them.

test('steady scores of 0.5 logged with `snappy eval` drop a marker by the 10th run', async () => {
  const sb = sandbox();
  let at = 0;
  for (let i = 1; i <= 10 && !at; i++) {
    expectExit(await sb.run(['eval', '--skill', 'summarize', '--score', '0.5', '--run-id', `r${i}`]), 0, `eval ${i}`);
    if (sb.exists('ready/summarize.ready')) at = i;
  }
  assert.ok(at >= 1 && at <= 10, 'no marker after 10 runs');
  const marker = JSON.parse(sb.read('ready/summarize.ready'));
  assert.is(marker.skill, 'summarize');
  assert.is(marker.snapshot.runs, at);
  assert.match(marker.reason, /below setpoint/);
  assert.ok(marker.snapshot.output >= marker.snapshot.on, 'the snapshot shows the output at the trigger');
});

test('steady scores >= 0.9 appended by an external harness never drop a marker, and each row counts once', async () => {
  const sb = sandbox();
  sb.append(rows('steady', [...fill(150, 0.95), ...fill(150, 0.9)]));
  // Any task that reads state ingests first: the aggregate task drives the PID loop too.
  expectExit(await sb.run(['run', 'aggregate']), 0, 'aggregate');
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  const st = await sb.status();
  assert.is(st.skills.steady!.runs, 300);
  assert.is(st.skills.steady!.marker, false);
  assert.not.ok(sb.exists('ready/steady.ready'));
});

test('one run of 0.1 among steady 0.95s drops no marker', async () => {
  const sb = sandbox();
  sb.append(rows('blip', [...fill(40, 0.95), 0.1, ...fill(40, 0.95)]));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  const st = await sb.status();
  assert.is(st.skills.blip!.runs, 81);
  assert.is(st.skills.blip!.marker, false);
});

test('1,000 good runs then a sustained drop to 0.5 drops a marker within 10 runs of the drop, run by run across processes', async () => {
  const sb = sandbox();
  sb.append(rows('drop', fill(1000, 0.95)));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen after the good runs');
  assert.not.ok(sb.exists('ready/drop.ready'));
  // Two new runs per process: the controller's state must carry over between them.
  let done = 0;
  while (done < 10 && !sb.exists('ready/drop.ready')) {
    sb.append(rows('drop', [0.5, 0.5], T0 + (1001 + done) * 60_000));
    done += 2;
    expectExit(await sb.run(['run', 'regen']), 0, `regen after ${done} runs of the drop`);
  }
  assert.ok(sb.exists('ready/drop.ready'), 'no marker within 10 runs of the drop');
  const at = JSON.parse(sb.read('ready/drop.ready')).snapshot.runs - 1000;
  assert.ok(at >= 1 && at <= 10, `marker at run ${at} of the drop`);
});

test('a replayed ingest (cursor moved back, as after a crash) applies no row twice', async () => {
  const sb = sandbox();
  sb.append(rows('replay', fill(20, 0.95)));
  expectExit(await sb.run(['run', 'regen']), 0, 'first');
  const cursor = path.join(sb.state, '.snappy', 'ingest.json');
  copyFileSync(cursor, `${cursor}.saved`);
  sb.append(rows('replay', fill(5, 0.5)));
  expectExit(await sb.run(['run', 'regen']), 0, 'second');
  const before = await sb.status();
  assert.is(before.skills.replay!.runs, 25);
  // The crash case: afterEval ran for the 5 rows, the cursor never moved.
  copyFileSync(`${cursor}.saved`, cursor);
  expectExit(await sb.run(['run', 'regen']), 0, 'replay');
  const after = await sb.status();
  assert.is(after.skills.replay!.runs, 25);
  assert.equal(after.skills.replay, before.skills.replay, 'the controller state changed on a replay');
});

test('rows of staged revs do not drive the controller; they count toward the rev evaluation status lists', async () => {
  const sb = sandbox();
  const rev = 'a1b2c3d4e5f6';
  mkdirSync(path.join(sb.state, 'staging', 'fmt', rev), { recursive: true });
  writeFileSync(path.join(sb.state, 'staging', 'fmt', rev, 'fmt.md'), '---\nname: fmt\n---\nbody\n');
  sb.append(rows('fmt', fill(6, 0.95)));
  sb.append(rows(`fmt:${rev}`, [0.1, 0.1]));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  let st = await sb.status();
  assert.is(st.skills.fmt!.runs, 6, 'rev rows counted as runs of the page');
  assert.is(st.skills.fmt!.marker, false);
  assert.equal(st.staged, [{ skill: 'fmt', rev, ref: `fmt:${rev}`, page: `staging/fmt/${rev}/fmt.md`, runs: 2, need: 3 }]);
  sb.append(rows(`fmt:${rev}`, [0.9]));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  st = await sb.status();
  assert.equal(st.staged, [], 'a rev with enough local runs is no longer waiting');
});

test('status prints a line per skill with its numbers and recent scores off a terminal', async () => {
  const sb = sandbox();
  sb.append(rows('shown', [0.5, 0.6, 0.7]));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  const r = await sb.run(['status']);
  expectExit(r, 0, 'status');
  const line = r.stdout.split('\n').find((l) => l.trim().startsWith('shown'));
  assert.ok(line, r.stdout);
  assert.match(line!, /\b3\b/);
  assert.match(line!, /0\.50 0\.60 0\.70/);
});

test('per-skill PID constants (here through a machine override of the config) change when the marker comes', async () => {
  const sb = sandbox({ regen: { pid: { minRuns: 8 } }, machines: { m1: { regen: { skills: { eager: { pid: { minRuns: 2 } } } } } } });
  sb.append([...rows('eager', fill(3, 0.3)), ...rows('patient', fill(3, 0.3))]);
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  assert.ok(sb.exists('ready/eager.ready'));
  assert.not.ok(sb.exists('ready/patient.ready'));
  assert.is(JSON.parse(sb.read('ready/eager.ready')).snapshot.runs, 2);
});

test('a bad regen section in the config is a usage error naming the plugin and the path', async () => {
  const sb = sandbox({ regen: { pid: { alpha: 2 } } });
  const r = await sb.run(['run', 'regen']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /regen\.pid\.alpha/);
});

test.run();
