import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointLog, killAt } from '../../helpers/checkpoints.ts';
import { fuzzSeed, prng } from '../../helpers/seed.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, manyFiles, readTree, writeTree } from './fixtures.ts';

const seed = fuzzSeed('sync/fault-kill', 20260426);
const KILLS = 20;
const ROWS = 400;

/** A machine with 150 pages, a staged rev, a brief and an eval log, with the real aggregate plugin. */
function mk(remoteDir: string) {
  const dir = tmpDir('snappy-kill-');
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['aggregate', 'sync'] }));
  const m = machine({ id: 'k1', key: 'kill-tenant', remote: `file://${remoteDir}`, config, dir });
  const files = manyFiles(150, 'k');
  writeTree(m.state, files);
  mkdirSync(path.join(m.state, 'log'), { recursive: true });
  writeFileSync(path.join(m.state, 'log/evals.ndjson'), Array.from({ length: ROWS }, (_, i) => `${JSON.stringify({ ts: 1_700_000_000_000 + i * 1000, skill: `s${i % 7}`, score: (i % 10) / 10, run_id: `run-${i}`, ok: true, prompt: 'private' })}\n`).join(''));
  return { m, files };
}

test(`kill -9 of a push at ${KILLS} seeded checkpoints (between object writes, after the batch is shipped), then a rerun: the remote is identical to a clean push, one aggregate batch`, async () => {
  const cleanDir = path.join(tmpDir(), 'clean');
  const clean = mk(cleanDir);
  const cleanLog = new CheckpointLog();
  const ref = await clean.m.run(['run', 'push'], cleanLog.env());
  assert.is(ref.code, 0, ref.stderr);
  // What a whole push passes: one checkpoint per object sent, one when the batch is stored.
  const objects = cleanLog.count('push:object');
  assert.is(objects, Object.keys(clean.files).length);
  assert.is(cleanLog.count('push:batch-shipped'), 1);

  const killedDir = path.join(tmpDir(), 'killed');
  const { m } = mk(killedDir);
  const rnd = prng(seed);
  const landed: string[] = [];
  for (let i = 0; i < KILLS; i++) {
    const at = rnd() < 0.25 ? { point: 'push:batch-shipped', n: 1 } : { point: 'push:object', n: 1 + Math.floor(rnd() * objects) };
    const log = new CheckpointLog();
    const o = await killAt(log, (env) => m.spawn(['run', 'push'], env), { ...at, hold: true });
    assert.ok(o.killed, `kill ${i} at ${at.point} #${at.n}: the push ended first (exit ${o.result.code}): ${o.result.stderr}`);
    const last = o.passes.at(-1)!;
    assert.equal([last.point, last.n], [at.point, at.n], `kill ${i}: the push went past the point it was held at`);
    landed.push(`${at.point}#${at.n}`);
  }
  // Every kill landed inside the push: between two object writes or between storing the
  // batch and committing the outbox (the held point is the last one each killed run passed).
  const mid = landed.filter((l) => l.startsWith('push:object')).length;
  assert.is(mid + landed.filter((l) => l.startsWith('push:batch-shipped')).length, KILLS);
  console.log(`[sync/fault-kill] ${KILLS} kills inside the push: ${mid} between object writes, ${KILLS - mid} after the batch was stored: ${landed.join(' ')}`);

  const rerun = await m.json(['run', 'push']);
  assert.is(rerun.res.code, 0, rerun.res.stderr);
  // The batch index is keyed by the time of shipping (and a rerun may index a batch again,
  // which the tick's dedupe makes harmless): compare it by what it points at.
  const isIndex = (k: string) => k.startsWith('snappy-agg-index/');
  const want = readTree(cleanDir);
  const got = readTree(killedDir);
  const pointed = (t: Record<string, string>) => [...new Set(Object.keys(t).filter(isIndex).map((k) => t[k]))].sort();
  assert.equal(pointed(got), pointed(want));
  assert.equal(Object.keys(got).filter((k) => !isIndex(k)).sort(), Object.keys(want).filter((k) => !isIndex(k)).sort());
  for (const k of Object.keys(want).filter((k) => !isIndex(k))) assert.is(got[k], want[k], `${k} differs`);
  const batches = Object.keys(got).filter((k) => k.startsWith('snappy-agg/'));
  assert.is(batches.length, 1);
  assert.is(got[batches[0]!]!.split('\n').length - 1, ROWS, 'the one batch holds every row');
  assert.is((await m.json(['run', 'push'])).out.reports.push.aggregate.skipped, 'nothing new', 'the shipped rows were not committed');
});

test.run();
