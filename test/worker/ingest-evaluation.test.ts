// The evaluation an ingest starts (a tick limited to the batch's revs) takes in every new batch
// and records each as read: the runs of other staged revs in those batches must be counted too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { ndjson, row, stageRev, tenant, text } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, r2Of, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

test('a tick started by an ingest of rev A runs also counts the runs of rev B in the other new batches it reads', async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const blobs = new R2BlobStore(await r2Of(mf));
  const [a, b] = await Promise.all([tenant('eval-a'), tenant('eval-b')]);
  for (const t of [a, b]) await admit(mf, t);
  const revA = await stageRev(blobs, 'alpha', 'Alpha, staged.\n');
  const revB = await stageRev(blobs, 'beta', 'Beta, staged.\n');
  // A batch of rev B stored and indexed as ingest does, whose own evaluation never ran (a Worker stopped after storing it).
  const body = ndjson([row(b, `beta:${revB}`, 0.9, 'b-1'), row(b, `beta:${revB}`, 0.9, 'b-2')]);
  const id = await batchIdOf(body);
  await blobs.put(Remote.aggregateBatch(b.id, id), body, { ifAbsent: true });
  await blobs.put(Remote.aggregateIndex(Date.now(), b.id, id), Remote.aggregateBatch(b.id, id), { ifAbsent: true });
  // Then tenant a ships runs of rev A: its evaluation (limited to alpha) reads both batches.
  const res = await ingest(mf, a, ndjson([row(a, `alpha:${revA}`, 0.9, 'a-1')]));
  assert.is(res.status, 201, JSON.stringify(res.body));
  await eventually(async () => ((await text(blobs, Remote.tally('alpha', revA))) ? true : null), 'the tally of rev A');
  const scan = await eventually(async () => {
    const s = JSON.parse((await text(blobs, Remote.quorumScan)) ?? 'null');
    return s && (s.applied ?? []).length + Object.values(s.seen ?? {}).flat().length >= 2 ? s : null;
  }, 'both batches recorded as read');
  assert.ok(scan, 'the scan state records both batches');
  const tallyB = JSON.parse((await text(blobs, Remote.tally('beta', revB))) ?? 'null');
  assert.ok(tallyB, 'rev B has a tally: its runs were not dropped as "not staged"');
  assert.is(Object.keys(tallyB.tenants[b.id] ?? {}).length, 2, 'both runs of rev B counted');
});

test.run();
