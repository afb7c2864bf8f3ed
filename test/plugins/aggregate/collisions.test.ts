// Two machines of one tenant logging the same raw run id make one aggregate run id (the HMAC is
// per tenant): only the first row counts anywhere. Where the rows meet (a merge of pulled
// batches, or the ingest of new rows once the aggregate's keys are loaded) this is reported
// with a count and an example, in the human output and in --json. The same row seen again
// (a batch merged twice) is not a collision.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tenantIdOf } from '../../../domain/hash.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { makeMachine, writeFleetConfig } from '../../e2e/fleet.ts';

const KEY = 'collisions-tenant-key-5e2b9d7c1a4f8e3b6d0c';
const T0 = Date.parse('2026-05-04T10:00:00.000Z');

function fleet() {
  const root = tmpDir('snappy-collisions-');
  const remoteDir = path.join(root, 'remote');
  const config = writeFleetConfig(root, { builtins: ['aggregate', 'sync'] });
  const mk = (name: string, key = KEY) => makeMachine({ root, name, key, machine: name, config, remote: `file://${remoteDir}` });
  return { remoteDir, a1: mk('a1'), a2: mk('a2'), a3: mk('a3'), other: mk('o1', 'another-tenant-key-8f1c3e5a7b9d2f4e6a0b') };
}

const run = (id: string, score: number, at: number) => ({ ts: T0 + at, skill: 'triage', score, run_id: id, ok: true });

test('a merge meeting a run id of this tenant with another row reports it, with the raw run id, the row that counts and the one that does not', async () => {
  const { a1, a2 } = fleet();
  a1.log([run('dup-1', 0.97, 0), run('a1-only', 0.9, 1)]);
  await a1.run(['run', 'push', '--auto']);
  a2.log([run('dup-1', 0.91, 5000), run('a2-only', 0.9, 6000)]);
  await a2.run(['run', 'aggregate']); // a2's own row is in its aggregate before a1's batch arrives
  const r = await a2.run(['run', 'pull']);
  assert.match(r.stderr, /merging snappy-agg\/[0-9a-f]{12}\/[0-9a-f]{16}\.ndjson: 1 row of this tenant reuses a run id another run already has, and does not count \(e\.g\. run id "dup-1" \(aggregate run_id [0-9a-f]{16}\): triage 0\.91 at 2026-05-04T10:00:05\.000Z counts; triage 0\.97 at 2026-05-04T10:00:00\.000Z from snappy-agg\/\S+ does not\)\. Run ids must be unique per tenant: prefix them with the machine/);
  const tenant = await tenantIdOf(KEY);

  // The other side meets it too, in --json: a1 merges a2's batch.
  await a2.run(['run', 'push']);
  const j = await a1.json(['run', 'pull']);
  const c = j.reports.pull.aggregate.collisions;
  assert.is(c.count, 1);
  assert.is(c.example.raw_run_id, 'dup-1', "found in a1's own log");
  assert.equal(c.example.kept, { skill: 'triage', ts: '2026-05-04T10:00:00.000Z', score: 0.97 });
  assert.equal([c.example.dropped.score, c.example.dropped.ts], [0.91, '2026-05-04T10:00:05.000Z']);
  assert.match(c.example.dropped.source, `snappy-agg/${tenant}/`);
  assert.is(j.reports.pull.aggregate.added, 1, "only a2-only is new: a2's dup-1 row is not added");
});

test('new eval rows reusing a run id the aggregate already holds are reported at ingest, in push --auto and its --json', async () => {
  const { a1, a2 } = fleet();
  a1.log([run('dup-2', 0.97, 0)]);
  await a1.run(['run', 'push', '--auto']);
  // a2's harness logs the same run id; its push --auto pulls a1's batch first, then ingests.
  a2.log([run('a2-first', 0.8, 1000), run('dup-2', 0.5, 2000)]);
  const r = await a2.run(['run', 'push', '--auto']);
  assert.match(r.stderr, /aggregating log\/evals\.ndjson: 1 row of this tenant reuses a run id another run already has, and does not count \(e\.g\. run id "dup-2" \(aggregate run_id [0-9a-f]{16}\): triage 0\.97 at 2026-05-04T10:00:00\.000Z counts; triage 0\.5 at 2026-05-04T10:00:02\.000Z from log\/evals\.ndjson:2 does not\)/);
  a2.log([run('dup-3', 0.6, 3000)]);
  a1.log([run('dup-3', 0.7, 4000)]);
  await a1.run(['run', 'push', '--auto']);
  const j = await a2.json(['run', 'push', '--auto']);
  const c = j.reports.push.aggregate.collisions;
  assert.equal([c.count, c.example.raw_run_id, c.example.dropped.source], [1, 'dup-3', 'log/evals.ndjson:3']);
});

test('the same rows merged twice, another tenant using the same raw run id, and a run without collisions report nothing', async () => {
  const { remoteDir, a1, a3, other } = fleet();
  a1.log([run('r-1', 0.9, 0), run('r-2', 0.8, 1)]);
  await a1.run(['run', 'push', '--auto']);
  other.log([run('r-1', 0.2, 0)]); // another tenant: its own HMAC key, its own run ids
  await other.run(['run', 'push', '--auto']);
  // The same batch stored twice under two names (as a Worker's trailing cursor sends a batch twice).
  const tenant = await tenantIdOf(KEY);
  const dir = path.join(remoteDir, 'snappy-agg', tenant);
  const [batch] = readdirSync(dir);
  copyFileSync(path.join(dir, batch!), path.join(dir, 'ffffffffffffffff.ndjson'));
  const j = await a3.json(['run', 'pull']);
  assert.is(j.reports.pull.aggregate.collisions, undefined, JSON.stringify(j.reports.pull.aggregate));
  assert.is(j.reports.pull.aggregate.added, 3);
  const again = await a1.run(['run', 'push', '--auto']);
  assert.not.match(again.stderr, 'reuse');
});

test.run();
