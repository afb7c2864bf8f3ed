// Aggregate segments in real workerd: the cron compacts closed hours of the batch index exactly
// once (overlapping crons, workerd killed mid-compaction), GET /v1/aggregate serves segments then
// raw batches, and every row reaches a fresh pull once and a pull with an old cursor at least once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { checkAggLine } from '../../domain/agg-row.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { hourOf, Remote, ts13 } from '../../domain/layout.ts';
import { listKeys, ndjson, row, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';
import { BASE, OPS_TOKEN } from './client.ts';
import { buildTestWorker, r2Of, startWorker } from './helpers.ts';

const HOUR = 3_600_000;
const seed = fuzzSeed('worker/compaction', 0x5e9_0001);
const rnd = prng(seed);
let script = '';
const workers: Miniflare[] = [];
test.after(async () => {
  for (const mf of workers) await mf.dispose().catch(() => {});
});

async function start(persist: string, bindings: Record<string, string> = {}): Promise<Miniflare> {
  script ||= await buildTestWorker();
  const mf = await startWorker(script, { OPS_TOKEN, ...bindings }, { persist, quiet: true });
  workers.push(mf);
  return mf;
}

/** A batch as the Worker's ingest stores it (meta, batch, index entry), indexed at `at`. */
async function seedBatch(blobs: R2BlobStore, t: Tenant, body: string, at: number): Promise<string> {
  const id = await batchIdOf(body);
  const index = Remote.aggregateIndex(at, t.id, id);
  await blobs.put(Remote.aggregateMeta(t.id, id), JSON.stringify({ index }), { ifAbsent: true });
  await blobs.put(Remote.aggregateBatch(t.id, id), body, { ifAbsent: true });
  await blobs.put(index, Remote.aggregateBatch(t.id, id), { ifAbsent: true });
  return index;
}

interface Seeded {
  /** Every distinct row: (tenant, run_id) -> its line. */
  rows: Map<string, string>;
  /** Index key of each batch -> the row keys it holds. */
  batches: Map<string, string[]>;
  /** Hours whose batches are old enough to be compacted. */
  closedHours: Set<string>;
}

const keyOf = (line: string) => {
  const r = JSON.parse(line);
  return `${r.tenant}/${r.run_id}`;
};

/**
 * Four closed hours of three tenants' batches, one hour with batches big enough to take
 * several parts, a row shipped twice in two batches of one hour, and two batches from the
 * last minute (an hour still open).
 */
async function seedHistory(blobs: R2BlobStore, name: string, now = Date.now()): Promise<Seeded> {
  const fleet = await Promise.all(['a', 'b', 'c'].map((x) => tenant(`${name}-${x}`)));
  const s: Seeded = { rows: new Map(), batches: new Map(), closedHours: new Set() };
  const add = async (t: Tenant, rows: ReturnType<typeof row>[], at: number) => {
    const body = ndjson(rows);
    const lines = body.trimEnd().split('\n');
    for (const l of lines) s.rows.set(keyOf(l), l);
    s.batches.set(await seedBatch(blobs, t, body, at), lines.map(keyOf));
  };
  for (let h = 6; h >= 3; h--) {
    // A minute into the hour: every batch of the hour in the same hour, whatever the time now.
    const base = Math.floor(now / HOUR) * HOUR - h * HOUR + 60_000;
    s.closedHours.add(hourOf(base));
    for (const [ti, t] of fleet.entries()) {
      const big = h === 4 && ti === 0;
      for (let b = 0; b < (big ? 30 : 4); b++) {
        const n = big ? 2_000 : 5;
        await add(t, Array.from({ length: n }, (_, i) => row(t, `skill${i % 3}`, 0.5 + (i % 5) / 10, `h${h}-b${b}-r${i}`)), base + ti * 1000 + b * 10);
      }
    }
    // The same run shipped again in another batch of the same hour: one row in the segment.
    const t = fleet[1]!;
    await add(t, [row(t, 'skill0', 0.9, `h${h}-b0-r0`), row(t, 'skill1', 0.9, `h${h}-again`)], base + 50_000);
  }
  for (const t of fleet.slice(0, 2)) await add(t, [row(t, 'skill2', 0.7, `now-${t.id}`)], now - 60_000);
  return s;
}

/** Every page of GET /v1/aggregate from `after`, as the operator. */
async function pullAll(mf: Miniflare, after = '') {
  const lines: string[] = [];
  let cursor = after;
  let pages = 0;
  let segments = 0;
  let batches = 0;
  for (;;) {
    const res = await mf.dispatchFetch(`${BASE}/v1/aggregate${cursor ? `?after=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
    const body = await res.text();
    assert.is(res.status, 200, body);
    pages++;
    segments += Number(res.headers.get('x-snappy-segments'));
    batches += Number(res.headers.get('x-snappy-batches'));
    lines.push(...body.split('\n').filter((l) => l.trim()));
    cursor = res.headers.get('x-snappy-cursor')!;
    if (res.headers.get('x-snappy-more') !== '1') return { lines, cursor, pages, segments, batches, retention: res.headers.get('x-snappy-retention-days') };
  }
}

const counts = (lines: string[]) => {
  const m = new Map<string, number>();
  for (const l of lines) m.set(keyOf(l), (m.get(keyOf(l)) ?? 0) + 1);
  return m;
};

/** Every row of the segments, and the parts by hour. */
async function segmentRows(blobs: R2BlobStore) {
  const lines: string[] = [];
  const parts = new Map<string, number>();
  for (const k of await listKeys(blobs, Remote.aggregateSegmentPrefix)) {
    if (!k.endsWith('.ndjson')) continue;
    const hour = k.split('/')[1]!;
    parts.set(hour, (parts.get(hour) ?? 0) + 1);
    lines.push(...(await text(blobs, k))!.split('\n').filter((l) => l.trim()));
  }
  return { lines, parts };
}

const cron = async (mf: Miniflare) => (await mf.getWorker()).scheduled({ cron: '* * * * *' });

test('overlapping crons compact every closed hour once: each row in one part, schema intact, the open hour left raw; a fresh pull and an old cursor get every row', async () => {
  const mf = await start(tmpDir('snappy-compact-'));
  const blobs = new R2BlobStore(await r2Of(mf));
  const s = await seedHistory(blobs, 'overlap');
  const before = await pullAll(mf);
  assert.is(before.segments, 0, 'nothing is compacted before a cron');
  assert.is(before.batches, s.batches.size, 'a fresh pull before compaction reads every batch');
  const oldCursor = `${Remote.aggregateIndexPrefix}${hourOf(Date.now() - 4.5 * HOUR)}/${ts13(Date.now() - 4.5 * HOUR)}`;

  const results = await Promise.all(Array.from({ length: 4 }, () => cron(mf)));
  for (const r of results) assert.is(r.outcome, 'ok');
  const seg = await segmentRows(blobs);
  for (const h of s.closedHours) assert.ok(await blobs.head(Remote.aggregateSegmentDone(h)), `hour ${h} is compacted`);
  assert.ok(Math.max(...seg.parts.values()) >= 2, `the hour of big batches took several parts (${JSON.stringify([...seg.parts])})`);
  for (const l of seg.lines) {
    const c = checkAggLine(l);
    assert.ok(c.ok, `a segment line passes the locked schema: ${l} (${c.ok ? '' : c.reason})`);
  }
  const inSegments = counts(seg.lines);
  assert.is([...inSegments.values()].filter((n) => n > 1).length, 0, 'no row twice in the segments, though one was shipped twice in every hour');
  const closedRows = new Set([...s.batches].filter(([k]) => s.closedHours.has(k.split('/')[1]!)).flatMap(([, rows]) => rows));
  assert.equal(new Set(inSegments.keys()), closedRows, 'the segments hold exactly the rows of the closed hours');
  assert.is([...inSegments.keys()].some((k) => k.includes('now-')), false, 'the open hour is not compacted');

  // Another cron writes nothing more.
  const keys = await listKeys(blobs, Remote.aggregateSegmentPrefix);
  assert.is((await cron(mf)).outcome, 'ok');
  assert.equal(await listKeys(blobs, Remote.aggregateSegmentPrefix), keys, 'a later cron leaves the segments as they are');

  const fresh = await pullAll(mf);
  const got = counts(fresh.lines);
  assert.equal(new Set(got.keys()), new Set(s.rows.keys()), 'a fresh pull gets every row');
  assert.is([...got.values()].filter((n) => n > 1).length, 0, 'and each once');
  assert.is(fresh.batches, 2, 'only the open hour comes as raw batches');
  assert.is(fresh.segments, [...seg.parts.values()].reduce((a, b) => a + b, 0), 'the rest as segments');
  assert.ok(fresh.segments + fresh.batches < s.batches.size / 5, `a fresh pull reads ${fresh.segments + fresh.batches} objects instead of ${s.batches.size}`);

  const old = await pullAll(mf, oldCursor);
  const afterOld = new Set([...s.batches].filter(([k]) => k > oldCursor).flatMap(([, rows]) => rows));
  const oldGot = counts(old.lines);
  for (const k of afterOld) assert.ok(oldGot.has(k), `a pull from a cursor of before the compaction still gets ${k}`);
  assert.ok(old.segments > 0, 'served from segments');
  // The cursor a pull handed out before the compaction goes on from where it was: nothing new.
  const noop = await pullAll(mf, before.cursor);
  assert.is(noop.lines.length, 0, 'a machine that had pulled everything gets nothing again');
  assert.is(noop.segments, 0);

  // Paging by segment cursor: resume after one part, then the rest.
  const firstPart = (await listKeys(blobs, Remote.aggregateSegmentPrefix)).find((k) => k.endsWith('.ndjson'))!;
  const rest = await pullAll(mf, firstPart);
  assert.ok(rest.segments > 0 && rest.lines.length < fresh.lines.length, 'a segment cursor goes on after its part');

  const bad = await mf.dispatchFetch(`${BASE}/v1/aggregate?after=${encodeURIComponent('snappy-agg-seg/nope')}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  assert.is(bad.status, 400);
  assert.match(await bad.text(), 'snappy-agg-seg/nope', 'the refusal names the cursor');
});

test(`workerd killed mid-compaction (seed ${seed}), restarted on the same bucket: the segments hold every row of the closed hours once`, async () => {
  const persist = tmpDir('snappy-compact-kill-');
  // A few batches a cron, so compaction spans many crons and a kill lands inside it.
  const env = { SNAPPY_COMPACT_BATCHES: '10' };
  let mf = await start(persist, env);
  const s = await seedHistory(new R2BlobStore(await r2Of(mf)), 'kill');
  const parts = async (blobs: R2BlobStore) => (await listKeys(blobs, Remote.aggregateSegmentPrefix)).filter((k) => k.endsWith('.ndjson')).length;
  let killedMidCompaction = 0;
  for (let round = 0; round < 6; round++) {
    const blobs = new R2BlobStore(await r2Of(mf));
    const had = await parts(blobs);
    let finished = false;
    const running = cron(mf).then(
      () => (finished = true),
      () => undefined,
    );
    if (round % 2 === 0) {
      // Kill as soon as this cron wrote a part: it is then reading the batches of the next one.
      while (!finished && (await parts(blobs)) === had) await new Promise((r) => setTimeout(r, 2));
    } else await new Promise((r) => setTimeout(r, Math.floor(rnd() * 300)));
    if (!finished && (await parts(blobs)) > had) killedMidCompaction++;
    await mf.dispose(); // SIGKILLs workerd
    await running;
    mf = await start(persist, env);
  }
  assert.ok(killedMidCompaction > 0, 'a kill landed while a cron was compacting');
  const blobs = new R2BlobStore(await r2Of(mf));
  for (let i = 0; i < 40; i++) {
    const results = await Promise.all(Array.from({ length: 2 }, () => cron(mf)));
    for (const r of results) assert.is(r.outcome, 'ok');
    const done = await Promise.all([...s.closedHours].map((h) => blobs.head(Remote.aggregateSegmentDone(h))));
    if (done.every(Boolean)) break;
  }
  for (const h of s.closedHours) assert.ok(await blobs.head(Remote.aggregateSegmentDone(h)), `hour ${h} is compacted`);
  const inSegments = counts((await segmentRows(blobs)).lines);
  assert.is([...inSegments.values()].filter((n) => n > 1).length, 0, 'no row twice in the segments');
  const fresh = counts((await pullAll(mf)).lines);
  assert.equal(new Set(fresh.keys()), new Set(s.rows.keys()), 'a fresh pull gets every row');
  assert.is([...fresh.values()].filter((n) => n > 1).length, 0, 'and each once');
});

test.run();
