import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeEvalLog } from '../../../bench/aggregate.ts';
import { CheckpointLog, killAt, type Pass } from '../../helpers/checkpoints.ts';
import { spawnCli } from '../../helpers/cli.ts';
import { fuzzSeed, prng } from '../../helpers/seed.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { referenceAggregate } from './reference.ts';

const KEY = 'crash-key';
const ROWS = Number(process.env.SNAPPY_CRASH_ROWS ?? 100_000);
const KILLS = Number(process.env.SNAPPY_CRASH_KILLS ?? 55);
const seed = fuzzSeed('aggregate/crash', 20240501);

const start = (dir: string, state: string) => (env: Record<string, string>) =>
  spawnCli(['run', 'aggregate', '--state', state, '--quiet'], { cwd: dir, env: { SNAPPY_MASTER_KEY: KEY, SNAPPY_MACHINE_ID: 'm1', ...env } });

/** Complete lines of the aggregate (a torn last line is what a killed write may leave). */
async function completeLines(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

const count = (ps: Pass[], point: string) => ps.filter((p) => p.point === point).length;

test(`kill -9 of snappy run aggregate at ${KILLS} seeded checkpoints of a ${ROWS}-row log (between chunks, between a chunk's write and its commit, before the write, during it): never a duplicate, finally each row exactly once`, async () => {
  const dir = tmpDir('snappy-agg-crash-');
  await fs.writeFile(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['aggregate'] }));
  const master = path.join(dir, 'evals.ndjson');
  await writeEvalLog(master, ROWS, 7);
  // Some malformed rows and a half-written tail: they must neither count nor break anything.
  await fs.appendFile(master, 'not json\n{"ts":1,"skill":"a","score":9,"run_id":"x","ok":true}\n{"ts":1,"skill":"a"');
  const ref = referenceAggregate(await fs.readFile(master), KEY).lines.map((l) => l.slice(0, -1));
  const expected = new Set(ref);
  assert.is(expected.size, ref.length);

  const newRound = async (n: number) => {
    const state = path.join(dir, `state-${n}`);
    await fs.mkdir(path.join(state, 'log'), { recursive: true });
    await fs.link(master, path.join(state, 'log', 'evals.ndjson')); // the runs only read it
    return state;
  };

  // A clean build, reporting its checkpoints: how many chunks a whole build passes.
  const calibration = new CheckpointLog();
  const clean = await killAt(calibration, start(dir, await newRound(0)), { point: 'never', n: 1, hold: false });
  assert.is(clean.result.code, 0, clean.result.stderr);
  assert.equal(await completeLines(path.join(dir, 'state-0', 'log', 'evals.aggregate.ndjson')), ref);
  const chunks = count(clean.passes, 'ingest:chunk-flushed');
  assert.ok(chunks >= 5, `the log is read in ${chunks} chunks: too few to kill between`);

  const rnd = prng(seed);
  const landed = { betweenChunks: 0, beforeCommit: 0, beforeWrite: 0, duringWrite: 0, afterCommit: 0 };
  let kills = 0;
  let rounds = 0;
  while (kills < KILLS) {
    rounds++;
    const state = await newRound(rounds);
    const agg = path.join(state, 'log', 'evals.aggregate.ndjson');
    let flushed = 0;
    for (let attempt = 0; ; attempt++) {
      const left = Math.max(1, chunks - flushed);
      const pick = rnd();
      const n = 1 + Math.floor(rnd() * left);
      // Held at a commit: the kill lands between two chunks. Held after a chunk's write: between
      // its bytes and its commit record. Held where a chunk's rows have been read: before its
      // write. Not held there: wherever the write has got to.
      const at =
        attempt >= 6
          ? { point: 'never', n: 1, hold: false }
          : pick < 0.3
            ? { point: 'aggregate:committed', n, hold: true }
            : pick < 0.55
              ? { point: 'aggregate:written', n, hold: true }
              : { point: 'ingest:rows-observed', n, hold: pick < 0.75 };
      const o = await killAt(new CheckpointLog(), start(dir, state), at);
      const lines = await completeLines(agg);
      const seen = new Set<string>();
      for (const l of lines) {
        assert.ok(expected.has(l), `round ${rounds}: a line no input row gives: ${l.slice(0, 200)}`);
        assert.ok(!seen.has(l), `round ${rounds}, after a kill at ${at.point} #${at.n}: a row twice: ${l}`);
        seen.add(l);
      }
      if (o.killed) {
        kills++;
        flushed += count(o.passes, 'ingest:chunk-flushed');
        const after = o.passes.slice(o.passes.findIndex((p) => p.point === at.point && p.n === at.n) + 1);
        if (at.point === 'aggregate:committed') landed.betweenChunks++;
        else if (at.point === 'aggregate:written') landed.beforeCommit++;
        else if (at.hold) landed.beforeWrite++;
        else if (count(after, 'aggregate:committed') === 0) landed.duringWrite++;
        else landed.afterCommit++;
        continue;
      }
      assert.is(o.result.code, 0, o.result.stderr);
      // A clean run completed the round: every row exactly once, in log order.
      assert.equal(lines, ref, `round ${rounds}: the aggregate after the clean run`);
      break;
    }
  }
  // Every kill landed inside the aggregation (a checkpoint of it had passed): none in start-up.
  assert.is(landed.betweenChunks + landed.beforeCommit + landed.beforeWrite + landed.duringWrite + landed.afterCommit, KILLS);
  const final = await killAt(new CheckpointLog(), start(dir, path.join(dir, `state-${rounds}`)), { point: 'never', n: 1, hold: false });
  assert.is(final.result.code, 0);
  assert.is(count(final.passes, 'aggregate:committed'), 0, 'a rerun committed something');
  assert.equal(await completeLines(path.join(dir, `state-${rounds}`, 'log', 'evals.aggregate.ndjson')), ref, 'a rerun adds nothing');
  console.log(`[aggregate/crash] ${KILLS} kills over ${rounds} rounds of a ${chunks}-chunk build, all inside the aggregation: ${landed.betweenChunks} between chunks, ${landed.beforeCommit} between a chunk's write and its commit, ${landed.beforeWrite} before a chunk's write, ${landed.duringWrite} during it, ${landed.afterCommit} just after a commit`);
});

test.run();
