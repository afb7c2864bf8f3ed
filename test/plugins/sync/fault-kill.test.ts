import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, spawnCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, manyFiles, readTree, writeTree } from './fixtures.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded generator, so the kill points are the same on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('kill -9 of a push at 20 seeded points, then a rerun: the remote is identical to a clean push', async () => {
  const AGG = `export default { name: 'aggregate', apply(h, ctx) { ctx.provide('aggregate', {
    async outbox() { return { ndjson: '{"_v":1,"ts":"2026-01-01T00:00:00.000Z","skill":"a","score":1,"run_id":"00000000000000aa","tenant":"t","ok":true}\\n', rows: 1, commit: async () => {} }; },
    async merge() { return { added: 0, duplicates: 0, invalid: [] }; } }); } };`;
  const files = manyFiles(150, 'k');
  const mk = (remoteDir: string) => {
    const dir = tmpDir('snappy-kill-');
    writeFileSync(path.join(dir, 'agg.mjs'), AGG);
    const config = path.join(dir, 'snappy.config.json');
    writeFileSync(config, JSON.stringify({ builtins: ['sync'], plugins: ['./agg.mjs'] }));
    const m = machine({ id: 'k1', key: 'kill-tenant', remote: `file://${remoteDir}`, config, dir });
    writeTree(m.state, files);
    return { m, config };
  };
  const cleanDir = path.join(tmpDir(), 'clean');
  const clean = mk(cleanDir);
  const t0 = Date.now();
  const ref = await clean.m.run(['run', 'push']);
  const pushMs = Date.now() - t0;
  assert.is(ref.code, 0, ref.stderr);

  const killedDir = path.join(tmpDir(), 'killed');
  const { m, config } = mk(killedDir);
  const rnd = seeded(20260426);
  let killed = 0;
  for (let i = 0; i < 20; i++) {
    const child = spawnCli(['run', 'push', '--state', m.state, '--remote', `file://${killedDir}`, '--config', config], { env: m.env });
    const done = collect(child);
    await sleep(Math.floor(rnd() * pushMs));
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      killed++;
    }
    await done;
  }
  assert.ok(killed >= 10, `only ${killed} of 20 pushes were still running when killed`);
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
  assert.is(Object.keys(got).filter((k) => k.startsWith('snappy-agg/')).length, 1);
});

test.run();
