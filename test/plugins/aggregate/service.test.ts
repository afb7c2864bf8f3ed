import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { subtractRanges } from '../../../plugins/aggregate/service-impl.ts';
import { inProcess } from './inproc.ts';

const KEY = 'service-key';
const line = (i: number) => `${JSON.stringify({ ts: 1714557600000 + i, skill: 'summarize', score: 0.5, run_id: `run-${i}`, ok: true })}\n`;
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const other = (i: number, tenant = '0000000000aa') => `{"_v":1,"ts":"2024-05-01T10:00:00.000Z","skill":"summarize","score":0.9,"run_id":"${i.toString(16).padStart(16, '0')}","tenant":"${tenant}","ok":true}`;

test('outbox holds this machine\'s unshipped rows; commit() ships exactly those; merged rows never enter it', async () => {
  const t = await inProcess(KEY);
  assert.is(await t.service.outbox(t.run), null, 'nothing yet');
  await fs.writeFile(t.log, rows(0, 10));
  await t.ingest();
  const first = await t.service.outbox(t.run);
  assert.ok(first);
  assert.is(first.rows, 10);
  assert.is(first.ndjson, await fs.readFile(t.agg, 'utf8'));
  const m = await t.service.merge(t.run, [other(1), other(2)].join('\n') + '\n', 'remote batch');
  assert.equal(m, { added: 2, duplicates: 0, invalid: [] });
  await fs.appendFile(t.log, rows(10, 15));
  await t.ingest();
  // Not committed yet: the same rows come back, plus the new ones (never the merged ones).
  const second = await t.service.outbox(t.run);
  assert.is(second!.rows, 15);
  assert.not.match(second!.ndjson, /0000000000aa/);
  await first.commit();
  const third = await t.service.outbox(t.run);
  assert.is(third!.rows, 5, 'only the rows appended after the first outbox remain');
  await third!.commit();
  assert.is(await t.service.outbox(t.run), null);
  // The commit survives a restart of the plugin (new process = fresh state read from disk).
  const tenant = createHash('sha256').update(KEY).digest('hex').slice(0, 12);
  assert.ok((await fs.readFile(t.agg, 'utf8')).split('\n').filter(Boolean).every((l) => l.includes(tenant) || l.includes('0000000000aa')));
});

test('merge: schema-checked, deduped by (tenant, run_id) against the union and within the batch, bad lines returned', async () => {
  const t = await inProcess(KEY);
  await fs.writeFile(t.log, rows(0, 3));
  await t.ingest();
  const own = (await fs.readFile(t.agg, 'utf8')).split('\n')[0]!;
  const batch = [other(1), other(1), other(1, '0000000000bb'), own, '{"_v":1,"bad":true}', '', 'nope', other(2)].join('\n');
  const m = await t.service.merge(t.run, batch, 'pulled');
  assert.is(m.added, 3);
  assert.is(m.duplicates, 2);
  assert.equal(m.invalid.map((i) => i.line), [5, 7]);
  assert.match(m.invalid[0]!.reason, /unknown key "bad"/);
  const again = await t.service.merge(t.run, batch, 'pulled');
  assert.is(again.added, 0);
  assert.is((await fs.readFile(t.agg, 'utf8')).split('\n').filter(Boolean).length, 6);
});

test('merge is crash-safe: a tail written past the commit is cut and the merge can be replayed', async () => {
  const t = await inProcess(KEY);
  await t.service.merge(t.run, other(1) + '\n', 'a');
  await fs.appendFile(t.agg, other(2) + '\n' + other(3).slice(0, 20)); // died before committing
  const fresh = await inProcess(KEY);
  // Same state dir, new plugin instance: it recovers before writing.
  const m = await fresh.service.merge(t.run, `${other(2)}\n${other(3)}\n`, 'a');
  assert.is(m.added, 2);
  assert.is(await fs.readFile(t.agg, 'utf8'), `${other(1)}\n${other(2)}\n${other(3)}\n`);
});

test('without a key: outbox is null and nothing is written; merge still works', async () => {
  const t = await inProcess(undefined);
  await fs.writeFile(t.log, rows(0, 5));
  await t.ingest();
  assert.is(await t.service.outbox(t.run), null);
  assert.is(await fs.readFile(t.agg, 'utf8').catch(() => ''), '');
  assert.is((await t.service.merge(t.run, other(7) + '\n', 'x')).added, 1);
});

test('subtractRanges removes shipped bytes, keeping later and extended ranges', () => {
  assert.equal(subtractRanges([[0, 10]], [[0, 10]]), []);
  assert.equal(subtractRanges([[0, 15]], [[0, 10]]), [[10, 15]]);
  assert.equal(subtractRanges([[0, 5], [8, 12]], [[0, 5]]), [[8, 12]]);
  assert.equal(subtractRanges([[0, 5], [8, 12]], [[3, 9]]), [[0, 3], [9, 12]]);
});

test.run();
