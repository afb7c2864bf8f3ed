// Daily summaries per tenant, written at ingest (plugins/quorum/daily.ts), in real workerd with
// the counting R2 binding: the ingest puts a batch's rows in its tenant's month once (a retry
// after a crash, a duplicate, two pushes at once), the tick writes no summary, and what an
// earlier release kept per (skill, tenant) still counts. Counts only, never times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { buildCountingWorker, settle, SignedClient, startCountingWorker, type CountingWorker } from '../../bench/workerd.ts';
import { ndjson, row, stageRev, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ops, OPS_TOKEN, signed } from './client.ts';
import { r2Of } from './helpers.ts';

let w: CountingWorker | undefined;
let script: string | undefined;
test.after(async () => {
  await w?.dispose();
});

async function fresh(): Promise<{ w: CountingWorker; blobs: R2BlobStore }> {
  await w?.dispose();
  w = await startCountingWorker((script ??= await buildCountingWorker()), { bindings: { OPS_TOKEN } });
  return { w, blobs: new R2BlobStore(await r2Of(w.mf)) };
}

/** `n` plain rows of `t` over `skills` skills, on 2026-11-20, run ids salted by `salt`. */
function plain(t: Tenant, n: number, skills: number, salt: string, score = 0.7): AggRow[] {
  return Array.from({ length: n }, (_, i) => ({ ...row(t, `skill${i % skills}`, score, `${salt}-${i}`), ts: '2026-11-20T10:00:00.000Z' }));
}

async function month(blobs: R2BlobStore, t: Tenant, m = '2026-11'): Promise<{ series: Record<string, Record<string, [number, number, number]>>; batches: string[] } | null> {
  const body = await text(blobs, Remote.tenantDaily(t.id, m));
  return body === null ? null : JSON.parse(body);
}

const runs = (m: Awaited<ReturnType<typeof month>>, key: string, day = '2026-11-20') => m?.series[key]?.[day]?.[0] ?? 0;

test('the ingest puts a batch in its tenant\'s month once: a duplicate, a retry after the batch was stored but not summarized, and 12 pushes of one tenant at once all count exactly once', async () => {
  const { w, blobs } = await fresh();
  const a = await tenant('daily-a');
  await admit(w.mf, a);
  const client = new SignedClient(w.url, a);
  const body = ndjson(plain(a, 6, 3, 'first'));
  assert.is((await client.ingest(body)).status, 201);
  assert.is(runs(await month(blobs, a), 'skill0'), 2, 'written at ingest, before any tick');
  assert.is((await client.ingest(body)).status, 200, 'the same batch again: a duplicate');
  assert.is(runs(await month(blobs, a), 'skill0'), 2, 'a duplicate adds nothing');

  // What a Worker killed after storing a batch leaves: the batch and its meta, no summary, no index entry.
  const lost = ndjson(plain(a, 4, 1, 'lost'));
  const id = await batchIdOf(lost);
  await blobs.put(Remote.aggregateMeta(a.id, id), JSON.stringify({ index: Remote.aggregateIndex(Date.now(), a.id, id) }), { ifAbsent: true });
  await blobs.put(Remote.aggregateBatch(a.id, id), lost, { ifAbsent: true });
  assert.is((await client.ingest(lost)).status, 200, 'the retry finds the batch stored');
  assert.is(runs(await month(blobs, a), 'skill0'), 2 + 4, 'and summarizes it');
  assert.is((await client.ingest(lost)).status, 200);
  assert.is(runs(await month(blobs, a), 'skill0'), 2 + 4, 'once');

  // Twelve different batches of the same tenant at once: every compare-and-swap that loses is retried.
  const res = await Promise.all(Array.from({ length: 12 }, (_, i) => client.ingest(ndjson(plain(a, 5, 1, `burst${i}`, 0.5)))));
  assert.equal(res.map((r) => r.status), Array(12).fill(201));
  const m = await month(blobs, a);
  assert.is(runs(m, 'skill0'), 2 + 4 + 12 * 5, 'every concurrent push counted');
  assert.is(m!.batches.length, 2 + 12, 'each batch recorded once');
  const [n, sum] = m!.series.skill0!['2026-11-20']!;
  assert.ok(Math.abs(sum - (6 * 0.7 + 60 * 0.5)) < 1e-9, `sums add up (${n}, ${sum})`);

  // The summaries are the Worker's own: no tenant reads them.
  const b = await tenant('daily-b');
  await admit(w.mf, b);
  assert.is((await signed(w.mf, b, 'GET', `/v1/object?key=${encodeURIComponent(Remote.tenantDaily(a.id, '2026-11'))}`, undefined)).status, 403);
});

test('the tick writes no daily summary: its bucket writes stay the same for 4 new batches and for 16 (each of 10 rows over 10 skills), and it reads each new batch once, no summary', async () => {
  const { w, blobs } = await fresh();
  const fleet = await Promise.all(Array.from({ length: 16 }, (_, i) => tenant(`daily-tick-${i}`)));
  for (const t of fleet) await admit(w.mf, t);
  await stageRev(blobs, 'skill0', 'A staged page.\n');
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: '* * * * *' });
  await settle(w, {});
  const tickAfter = async (ts: Tenant[], salt: string) => {
    for (const t of ts) assert.is((await new SignedClient(w.url, t).ingest(ndjson(plain(t, 10, 10, salt)))).status, 201);
    const ingest = await settle(w, {});
    await worker.scheduled({ cron: '* * * * *' });
    const tick = await settle(w, {});
    const rec = JSON.parse(new TextDecoder().decode((await blobs.get(Remote.lastTick))!));
    assert.is(rec.batches, ts.length, `the tick took in the ${ts.length} new batches`);
    return { ingest, tick };
  };
  const few = await tickAfter(fleet.slice(0, 4), 'few');
  const many = await tickAfter(fleet, 'many');
  assert.is(many.tick['r2.classA'], few.tick['r2.classA'], `the tick's class A operations do not grow with new batches (${few.tick['r2.classA']} for 4, ${many.tick['r2.classA']} for 16)`);
  // Per new batch: the batch, and nothing else (no summary, and no registry record: the ingest checked the rows' tenants).
  assert.is((many.tick['r2.get'] ?? 0) - (few.tick['r2.get'] ?? 0), 16 - 4, 'it reads each new batch once, and nothing more per batch');
  // A tenant's seen record is rewritten at most every 5 minutes: the second push of 4 of them writes one object less.
  const perPush = (few.ingest['r2.classA'] ?? 0) / 4;
  assert.is(many.ingest['r2.classA'], 16 * perPush - 4, `the ingest writes the same per push, its summary included (${perPush} class A)`);
  for (const [i, t] of fleet.entries()) assert.is(runs(await month(blobs, t), 'skill3'), i < 4 ? 2 : 1, 'each tenant\'s month has each of its batches');
  assert.equal(await text(blobs, Remote.daily('skill3', fleet[0]!.id)), null, 'and nothing writes the layout of the earlier release');
});

test('after an upgrade, what the earlier release summarized per (skill, tenant) still counts on the ops page, added to the new months', async () => {
  const { w, blobs } = await fresh();
  const a = await tenant('daily-upgrade');
  await admit(w.mf, a);
  const rev = await stageRev(blobs, 'skill0', 'Staged.\n');
  await blobs.put(Remote.daily('skill0', a.id), JSON.stringify({ v: 1, skill: 'skill0', tenant: a.id, days: { '2026-11-19': [3, 2.7, 2.43], '2026-11-20': [1, 0.9, 0.81] }, batches: ['0123456789abcdef'] }));
  await blobs.put(Remote.revDaily('skill0', rev, a.id), JSON.stringify({ v: 1, skill: 'skill0', rev, tenant: a.id, days: { '2026-11-19': [2, 1.6, 1.28] }, batches: ['0123456789abcdef'] }));
  const rows = [...plain(a, 2, 1, 'new', 0.6), { ...row(a, `skill0:${rev}`, 0.8, 'rev-new'), ts: '2026-11-19T12:00:00.000Z' }];
  assert.is((await new SignedClient(w.url, a).ingest(ndjson(rows))).status, 201);
  await settle(w, {});
  await (await w.mf.getWorker()).scheduled({ cron: '* * * * *' });
  await settle(w, {});
  const view = (await ops(w.mf, 'GET', '/skills')).body.skills.find((s: { skill: string }) => s.skill === 'skill0');
  const canonical = view.series.find((s: { rev: string | null }) => s.rev === null);
  assert.equal(canonical.points, [
    { day: '2026-11-19', mean: 0.9, runs: 3, tenants: 1 },
    { day: '2026-11-20', mean: 0.7, runs: 3, tenants: 1 },
  ], 'the old summary\'s days and the new month\'s, added');
  const revSeries = view.series.find((s: { rev: string | null }) => s.rev === rev);
  assert.equal(revSeries.points, [{ day: '2026-11-19', mean: 0.8, runs: 3, tenants: 1 }], "a staged rev's runs too");
  assert.is(view.tenants.find((t: { tenant: string }) => t.tenant === a.id).rows, 4 + 2 + 1, 'the tenant\'s rows: old plain, new plain, and its run of the rev');
});

test.run();
