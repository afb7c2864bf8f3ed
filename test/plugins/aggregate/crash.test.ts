import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeEvalLog } from '../../../bench/aggregate.ts';
import { prng } from '../../helpers/prng.ts';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { referenceAggregate } from './reference.ts';

const KEY = 'crash-key';
const ROWS = Number(process.env.SNAPPY_CRASH_ROWS ?? 100_000);
const KILLS = Number(process.env.SNAPPY_CRASH_KILLS ?? 55);

function run(dir: string, state: string, killAfterMs?: number) {
  const child = spawnCli(['run', 'aggregate', '--state', state, '--quiet'], { cwd: dir, env: { SNAPPY_MASTER_KEY: KEY, SNAPPY_MACHINE_ID: 'm1' } });
  if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return collect(child);
}

/** Complete lines of the aggregate (a torn last line is what a killed write may leave). */
async function completeLines(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

test(`kill -9 of snappy run aggregate at ${KILLS}+ random instants on a ${ROWS}-row log: never a duplicate, finally each row exactly once`, async () => {
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

  // Calibrate: how long a clean full build takes here, so kills land all along it.
  const t0 = Date.now();
  const calib = await run(dir, await newRound(0));
  const fullMs = Date.now() - t0;
  assert.is(calib.code, 0, calib.stderr);
  assert.equal(await completeLines(path.join(dir, 'state-0', 'log', 'evals.aggregate.ndjson')), ref);

  const rnd = prng(20240501);
  // Kills land uniformly over a clean build's duration; the bound follows the fastest clean
  // build seen (the calibration run is the coldest), so that few kills land after the end.
  let bound = fullMs;
  let kills = 0;
  let rounds = 0;
  const started = Date.now();
  while (kills < KILLS) {
    rounds++;
    const state = await newRound(rounds);
    const agg = path.join(state, 'log', 'evals.aggregate.ndjson');
    for (let attempt = 0; ; attempt++) {
      const delay = Math.floor(rnd() * bound);
      const began = Date.now();
      const r = await run(dir, state, attempt < 6 ? delay : undefined);
      if (attempt === 0 && r.signal !== 'SIGKILL') bound = Math.min(bound, Date.now() - began);
      const lines = await completeLines(agg);
      const seen = new Set<string>();
      for (const l of lines) {
        assert.ok(expected.has(l), `round ${rounds}: a line no input row gives: ${l.slice(0, 200)}`);
        assert.ok(!seen.has(l), `round ${rounds}, after a kill at ${delay} ms: a row twice: ${l}`);
        seen.add(l);
      }
      if (r.signal === 'SIGKILL') {
        kills++;
        continue;
      }
      assert.is(r.code, 0, r.stderr);
      // A clean run completed the round: every row exactly once, in log order.
      assert.equal(lines, ref, `round ${rounds}: the aggregate after the clean run`);
      break;
    }
  }
  const final = await run(dir, path.join(dir, `state-${rounds}`));
  assert.is(final.code, 0);
  assert.equal(await completeLines(path.join(dir, `state-${rounds}`, 'log', 'evals.aggregate.ndjson')), ref, 'a rerun adds nothing');
  console.log(`  ${kills} kills over ${rounds} rounds; full build ${fullMs} ms; ${Math.round((Date.now() - started) / 1000)} s`);
});

test.run();
