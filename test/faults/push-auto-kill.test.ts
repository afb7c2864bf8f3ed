import { createHmac } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tenantIdOf } from '../../domain/hash.ts';
import { CheckpointLog, killAt } from '../helpers/checkpoints.ts';
import { collect, spawnCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { CANARY, makeMachine, readTree, rows, writeFleetConfig, type Machine } from '../e2e/fleet.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';

// `snappy run push --auto` (pull, ingest + the real aggregate plugin, regen, push) killed with
// -9 at seeded checkpoints on three tenants at once, with new rows (good and malformed) arriving
// between the kills; then clean reruns. The remote's aggregate batches, merged by
// (tenant, run_id), must be exactly the well-formed rows: none lost, none invented.
const seed = fuzzSeed('faults/push-auto-kill', 0x5eed_0103);
const rnd = prng(seed);
const ROUNDS = 5;

const root = tmpDir('snappy-pushkill-');
const remoteDir = path.join(root, 'remote');
const config = writeFleetConfig(root);
const KEYS = ['kill-tenant-A-secret', 'kill-tenant-B-secret', 'kill-tenant-C-secret'];
const fleet: Machine[] = KEYS.map((key, i) => makeMachine({ root, name: `t${i}`, key, machine: `box-${i}`, config, remote: `file://${remoteDir}` }));

/** The run id the aggregate publishes: first 16 hex of HMAC-SHA256(master key, run_id). */
const opaque = (key: string, runId: string) => createHmac('sha256', key).update(runId).digest('hex').slice(0, 16);

function malformed(m: Machine, round: number): void {
  appendFileSync(
    path.join(m.state, 'log', 'evals.ndjson'),
    Buffer.concat([
      Buffer.from(`not json ${round}\n`),
      Buffer.from(`${JSON.stringify({ ts: Date.now(), skill: '../../etc/passwd', score: 0.9, run_id: `bad-${round}`, ok: true })}\n`),
      Buffer.from(`${JSON.stringify({ ts: Date.now(), skill: 'summarize', score: 1.5, run_id: `bad2-${round}`, ok: true })}\n`),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
    ]),
  );
}

test(`kill -9 of push --auto at seeded checkpoints on 3 tenants (${ROUNDS} rounds), then reruns: remote aggregate = exactly the well-formed rows`, async () => {
  const expected = new Set<string>();
  const ids = await Promise.all(KEYS.map(tenantIdOf));
  // Every run after round 0 has new rows, so it passes each of these: the ingest has read
  // the new rows, the aggregate committed rows (a pulled batch's or its own), the batch is
  // stored and its outbox not yet committed. Held there, or (for the ingest) killed
  // wherever the aggregation has got to by the time the kill arrives.
  const pick = () => {
    const r = rnd();
    if (r < 0.15) return undefined;
    if (r < 0.45) return { point: 'ingest:rows-observed', n: 1, hold: rnd() < 0.5 };
    if (r < 0.7) return { point: 'aggregate:committed', n: 1, hold: true };
    return { point: 'push:batch-shipped', n: 1, hold: true };
  };
  const landed: string[] = [];
  let planned = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const plans = fleet.map(() => (round === 0 ? undefined : pick()));
    await Promise.all(
      fleet.map(async (m, i) => {
        const n = 5 + Math.floor(rnd() * 40);
        const batch = rows(round % 2 ? 'summarize' : 'triage', Array.from({ length: n }, () => 0.9 + Math.round(rnd() * 10) / 100), `${m.name}-r${round}`);
        m.log(batch);
        for (const r of batch) expected.add(`${ids[i]}/${opaque(KEYS[i]!, r.run_id as string)}`);
        if (rnd() < 0.5) malformed(m, round);
      }),
    );
    await Promise.all(
      fleet.map(async (m, i) => {
        const at = plans[i];
        const start = (env: Record<string, string>) => spawnCli(['run', 'push', '--auto', '--quiet'], { cwd: root, env: { ...m.env, ...env } });
        if (!at) {
          const r = await collect(start({}), { timeoutMs: 120_000 });
          assert.is(r.code, 0, `${m.name} round ${round}: exit ${r.code}\n${r.stderr}`);
          return;
        }
        planned++;
        const o = await killAt(new CheckpointLog(), start, at);
        assert.ok(o.killed, `${m.name} round ${round}: never reached ${at.point} #${at.n} (exit ${o.result.code}): ${o.result.stderr}`);
        landed.push(`${at.point}${at.hold ? '' : '+'}`);
      }),
    );
  }
  assert.is(landed.length, planned, 'a planned kill did not land');
  // Clean reruns finish the work; a second one finds nothing left.
  for (const m of fleet) await m.run(['run', 'push', '--auto', '--quiet']);
  const before = readTree(remoteDir);
  for (const m of fleet) await m.run(['run', 'push', '--auto', '--quiet']);
  const after = readTree(remoteDir);
  const aggKeys = (t: Map<string, Buffer>) => [...t.keys()].filter((k) => k.startsWith('snappy-agg/')).sort();
  assert.equal(aggKeys(after), aggKeys(before), 'a rerun with nothing new adds no batch');

  const seen = new Map<string, number>();
  let rowsInBatches = 0;
  for (const id of ids) {
    let files: string[] = [];
    try {
      files = readdirSync(path.join(remoteDir, 'snappy-agg', id));
    } catch {}
    for (const f of files) {
      const body = readFileSync(path.join(remoteDir, 'snappy-agg', id, f), 'utf8');
      assert.not.ok(body.includes(CANARY), 'private fields never leave the machine');
      for (const l of body.split('\n').filter(Boolean)) {
        const r = JSON.parse(l) as { tenant: string; run_id: string };
        assert.is(r.tenant, id, `${f}: a row of another tenant`);
        const k = `${r.tenant}/${r.run_id}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
        rowsInBatches++;
      }
    }
  }
  const missing = [...expected].filter((k) => !seen.has(k));
  const extra = [...seen.keys()].filter((k) => !expected.has(k));
  assert.equal({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 }, `missing ${missing.slice(0, 5)}; extra ${extra.slice(0, 5)}`);
  const where = (p: string) => landed.filter((l) => l.startsWith(p)).length;
  console.log(`[faults/push-auto-kill] ${landed.length} kills of ${(ROUNDS - 1) * 3} runs: ${where('ingest:')} in the ingest (${landed.filter((l) => l.endsWith('+')).length} not held: mid-aggregation), ${where('aggregate:')} at an aggregate commit, ${where('push:')} between storing the batch and committing it; ${expected.size} good rows, ${rowsInBatches} rows in batches (${rowsInBatches - seen.size} re-sent copies merged away)`);
});

test.run();
