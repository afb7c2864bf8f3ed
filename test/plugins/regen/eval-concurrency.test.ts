import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointLog } from '../../helpers/checkpoints.ts';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { expectExit, sandbox } from './_util.ts';

const WRITERS = 6;
const ROUNDS = 3;

test(`${WRITERS} \`snappy eval\` processes at a time, each held after its append until all have appended, then let go together (${ROUNDS} rounds): no torn line, every row counted exactly once`, async () => {
  const sb = sandbox();
  // A long skill name makes each line bigger, so a torn write would have room to show.
  const skill = `concurrent-${'x'.repeat(100)}`;
  for (let round = 0; round < ROUNDS; round++) {
    const log = new CheckpointLog();
    const children = Array.from({ length: WRITERS }, (_, w) =>
      spawnCli(['eval', '--skill', skill, '--score', String((round * WRITERS + w) / 100), '--run-id', `r${round}-w${w}`, '--cost-usd', '0.015', '-q', '--state', sb.state], {
        cwd: sb.cwd,
        env: { SNAPPY_MACHINE_ID: 'm1', ...log.env({ point: 'eval:appended', n: 1 }) },
      }),
    );
    const results = children.map((c) => collect(c));
    let ended = 0;
    for (const r of results) void r.then(() => ended++);
    // Every writer has appended its row and waits at the barrier: now they race for the ingest.
    await log.until(
      (ps) => ps.filter((p) => p.point === 'eval:appended').length === WRITERS,
      () => (ended ? `a writer ended before the barrier: ${ended}` : undefined),
    );
    log.release();
    for (const [w, r] of (await Promise.all(results)).entries()) expectExit(r, 0, `round ${round} writer ${w}`);
  }
  const text = sb.read('log/evals.ndjson');
  assert.ok(text.endsWith('\n'), 'the log does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  assert.is(lines.length, WRITERS * ROUNDS);
  const ids = new Set<string>();
  for (const [n, line] of lines.entries()) {
    let row: { run_id: string; skill: string; score: number };
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`line ${n + 1} is torn: ${line}`);
    }
    assert.is(row.skill, skill);
    ids.add(row.run_id);
  }
  assert.is(ids.size, WRITERS * ROUNDS, 'a row is missing or doubled');
  const st = await sb.status();
  assert.is(st.skills[skill]!.runs, WRITERS * ROUNDS, 'afterEval did not fire exactly once per row');
});

test('an eval that starts while another is between counting its rows and saving them waits for it: no row is lost', async () => {
  // The interleaving two unlocked ingests can take, played step by step: A has counted row 1
  // in memory; B appends row 2, counts rows 1-2 and saves them; A then saves its count (row 1
  // only) and its cursor; B moves the cursor past row 2. Row 2 would be lost for good. With
  // the state-dir lock, B finds the lock busy at its first step and goes only after A.
  const sb = sandbox();
  const skill = 'interleaved';
  const logA = new CheckpointLog();
  const logB = new CheckpointLog();
  const evalAs = (log: CheckpointLog, run: string, hold: string) =>
    collect(spawnCli(['eval', '--skill', skill, '--score', '0.5', '--run-id', run, '-q', '--state', sb.state], { cwd: sb.cwd, env: { SNAPPY_MACHINE_ID: 'm1', ...log.env({ point: hold, n: 1 }) } }));
  const a = evalAs(logA, 'a', 'ingest:rows-observed');
  let aEnded = false;
  void a.then(() => (aEnded = true));
  await logA.until((ps) => ps.some((p) => p.point === 'ingest:rows-observed'), () => (aEnded ? 'A ended before counting its row' : undefined));
  const b = evalAs(logB, 'b', 'ingest:chunk-flushed');
  let bEnded = false;
  void b.then(() => (bEnded = true));
  await logB.until((ps) => ps.some((p) => p.point === 'lock:busy' || p.point === 'ingest:chunk-flushed'), () => (bEnded ? 'B ended early' : undefined));
  const bWaited = logB.count('lock:busy') > 0;
  logA.release();
  expectExit(await a, 0, 'eval A');
  logB.release();
  expectExit(await b, 0, 'eval B');
  const st = await sb.status();
  assert.is(st.skills[skill]!.runs, 2, 'a row was lost or counted twice');
  assert.ok(bWaited, 'B went into the ingest while A was inside it: the state dir was not locked');
});

test.run();
