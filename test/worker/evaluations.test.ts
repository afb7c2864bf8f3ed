// Ingest-started evaluations run one at a time (worker/evaluations.ts): pushes while one runs note
// their revs for it. The class with an evaluation held open by the test, then a burst of pushes
// naming staged revs in real workerd, every run of which must still be counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Evaluations } from '../../worker/evaluations.ts';
import { ndjson, row, stageRev, tenant, text } from '../plugins/quorum/fleet.ts';
import { Remote } from '../../domain/layout.ts';
import { admit, eventually, ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, r2Of, startWorker } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

/** An evaluation the test lets finish: each call waits for `release()`. */
function held() {
  const calls: string[][] = [];
  let release: () => void = () => {};
  const evaluate = (only: string[]) => {
    calls.push(only);
    return new Promise<void>((r) => (release = r));
  };
  return { calls, evaluate, release: () => release() };
}

const tickOver = () => new Promise((r) => setTimeout(r, 0));

test('while an evaluation runs, pushes only note their revs; the running one takes them all in one more round', async () => {
  const e = new Evaluations();
  const h = held();
  const first = e.note(['a:1'], h.evaluate);
  assert.ok(first, 'the first push starts an evaluation');
  assert.equal(h.calls, [['a:1']]);
  assert.is(e.note(['b:2'], h.evaluate), null, 'a push meanwhile starts none');
  assert.is(e.note(['c:3', 'a:1'], h.evaluate), null);
  assert.is(e.waiting, 3);
  h.release();
  await tickOver();
  assert.equal(h.calls, [['a:1'], ['a:1', 'b:2', 'c:3']], 'one more round, with every rev noted');
  h.release();
  await first;
  assert.is(h.calls.length, 2, 'four pushes, two evaluations');
  assert.is(e.waiting, 0);
  const next = e.note(['d:4'], h.evaluate);
  assert.ok(next, 'once it ended, the next push starts one again');
  h.release();
  await next;
});

test('rounds stop starting past the budget: revs noted after the last wait for the next push, which takes them', async () => {
  const e = new Evaluations(0);
  const h = held();
  const first = e.note(['a:1'], h.evaluate)!;
  e.note(['b:2'], h.evaluate);
  h.release();
  await first;
  assert.equal(h.calls, [['a:1']], 'with no budget left after the first round, it stops');
  assert.is(e.waiting, 1, 'b:2 waits');
  const next = e.note(['c:3'], h.evaluate)!;
  h.release();
  await next;
  assert.equal(h.calls[1], ['b:2', 'c:3']);
});

test('a failed evaluation neither stops the next round nor leaves the next push waiting', async () => {
  const e = new Evaluations();
  let n = 0;
  const failing = async () => {
    n++;
    throw new Error('bucket unavailable');
  };
  await e.note(['a:1'], failing);
  await e.note(['b:2'], failing);
  assert.is(n, 2);
});

test('a burst of 24 pushes naming staged revs in workerd: every run counted in its tally', async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const blobs = new R2BlobStore(await r2Of(mf));
  const fleet = await Promise.all(Array.from({ length: 8 }, (_, i) => tenant(`burst-${i}`)));
  for (const t of fleet) await admit(mf, t);
  const revs = [await stageRev(blobs, 'alpha', 'Alpha.\n'), await stageRev(blobs, 'beta', 'Beta.\n'), await stageRev(blobs, 'gamma', 'Gamma.\n')];
  const skills = ['alpha', 'beta', 'gamma'];
  const res = await Promise.all(
    fleet.flatMap((t, ti) => skills.map((s, si) => ingest(mf!, t, ndjson([row(t, `${s}:${revs[si]}`, 0.4, `burst-${ti}-${si}`)])))),
  );
  assert.equal(res.map((r) => r.status), Array(24).fill(201));
  for (const [si, s] of skills.entries()) {
    await eventually(async () => {
      const tally = JSON.parse((await text(blobs, Remote.tally(s, revs[si]!))) ?? 'null');
      return tally && Object.keys(tally.tenants).length === 8 ? tally : null;
    }, `the tally of ${s} names all 8 tenants`);
  }
});

test.run();
