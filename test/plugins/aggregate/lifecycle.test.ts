import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../helpers/cli.ts';
import { project, readText, runAggregate } from './helpers.ts';
import { referenceAggregate } from './reference.ts';

const KEY = 'lifecycle-key';
const line = (i: number) => `${JSON.stringify({ ts: 1714557600000 + i, skill: 'summarize', score: (i % 10) / 10, run_id: `run-${i}`, ok: i % 3 !== 0, secret: `s${i}` })}\n`;
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const lines = async (file: string) => (await readText(file)).split('\n').filter(Boolean);

test('without SNAPPY_MASTER_KEY: one warning, exit 0, nothing written; the rows are aggregated once a key is set', async () => {
  const p = await project();
  await fs.writeFile(p.log, rows(0, 50));
  for (const key of [undefined, '']) {
    const r = await runAggregate(p.dir, key);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stderr.match(/SNAPPY_MASTER_KEY is not set/g)?.length, 1, r.stderr);
    assert.is(r.json.reports.aggregate.rows, 0);
  }
  assert.is(await readText(p.agg), '', 'nothing partial written');
  await fs.access(path.join(p.state, '.snappy', 'aggregate.json')).then(
    () => assert.unreachable('no commit record without a key'),
    () => {},
  );
  await fs.appendFile(p.log, rows(50, 60));
  const r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.json.reports.aggregate.rows, 60, 'the 50 rows ingested without a key come back, and the 10 new ones');
  assert.is(r.json.reports.aggregate.caughtUp, 50);
  assert.is(await readText(p.agg), referenceAggregate(await fs.readFile(p.log), KEY).lines.join(''));
  const again = await runAggregate(p.dir, KEY);
  assert.is(again.json.reports.aggregate.rows, 0);
  assert.is((await lines(p.agg)).length, 60);
});

test('snappy eval rows reach the aggregate through the same ingest, once', async () => {
  const p = await project();
  const env = { SNAPPY_MASTER_KEY: KEY, SNAPPY_MACHINE_ID: 'm1' };
  for (const id of ['e1', 'e2']) {
    const r = await runCli(['eval', '--skill', 'summarize', '--score', '0.8', '--run-id', id, '--cost-usd', '0.015'], { cwd: p.dir, env });
    assert.is(r.code, 0, r.stderr);
  }
  await runAggregate(p.dir, KEY);
  const got = (await lines(p.agg)).map((l) => JSON.parse(l));
  assert.is(got.length, 2);
  assert.ok(got.every((o) => o.cost_usd_cents === 2 && o.score === 0.8));
});

test('a log truncated, rotated or replaced is read again without duplicates or loss', async () => {
  const p = await project();
  await fs.writeFile(p.log, rows(0, 100));
  await runAggregate(p.dir, KEY);
  // Replaced: same rows rewritten with one more in front, plus new ones at the end.
  await fs.writeFile(p.log, line(1000) + rows(0, 100) + rows(100, 120));
  let r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /truncated or replaced/);
  assert.is(r.json.reports.aggregate.rows, 21, 'only the new rows are added');
  assert.is(r.json.reports.aggregate.duplicates, 100);
  // Rotated: the old log moved away, a fresh one started.
  await fs.rename(p.log, `${p.log}.1`);
  await fs.writeFile(p.log, rows(200, 210));
  r = await runAggregate(p.dir, KEY);
  assert.is(r.json.reports.aggregate.rows, 10);
  // Truncated to nothing, then appended to.
  await fs.writeFile(p.log, '');
  await runAggregate(p.dir, KEY);
  await fs.writeFile(p.log, rows(300, 305));
  r = await runAggregate(p.dir, KEY);
  assert.is(r.json.reports.aggregate.rows, 5);
  const ids = (await lines(p.agg)).map((l) => JSON.parse(l).run_id);
  assert.is(ids.length, 100 + 21 + 10 + 5);
  assert.is(new Set(ids).size, ids.length, 'no duplicates');
});

test('a torn tail left past the committed size is cut off and its rows written once', async () => {
  const p = await project();
  await fs.writeFile(p.log, rows(0, 20));
  await runAggregate(p.dir, KEY);
  const before = await readText(p.agg);
  // What a run killed between its write and its commit leaves: rows and half a row.
  await fs.appendFile(p.log, rows(20, 30));
  const ref = referenceAggregate(await fs.readFile(p.log), KEY).lines;
  await fs.appendFile(p.agg, ref.slice(20, 25).join('') + ref[25]!.slice(0, 40));
  const r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  assert.is(await readText(p.agg), before + ref.slice(20).join(''));
});

test('a deleted aggregate file is rebuilt from the eval log', async () => {
  const p = await project();
  await fs.writeFile(p.log, rows(0, 30));
  await runAggregate(p.dir, KEY);
  const before = await readText(p.agg);
  await fs.rm(p.agg);
  const r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /rebuilding/);
  assert.is(await readText(p.agg), before);
});

test('snappy lint aggregate: FILE:LINE: reason for each problem, exit 1; exit 0 when clean; the script agrees', async () => {
  const p = await project();
  const good = '{"_v":1,"ts":"2024-05-01T10:00:00.000Z","skill":"a","score":0.5,"run_id":"0123456789abcdef","tenant":"abcdef012345","ok":true}';
  const bad = [
    good.replace('"ok":true', '"ok":true,"user":"x"'),
    good.replace('"tenant":"abcdef012345",', ''),
    good.replace('"score":0.5', '"score":"0.5"'),
    good.replace('"ok":true', '"cost_usd_cents":1.5,"ok":true'),
    good.replace('"score":0.5', '"score":2'),
    '{"ts":"2024-05-01T10:00:00.000Z","_v":1,"skill":"a","score":0.5,"run_id":"0123456789abcdef","tenant":"abcdef012345","ok":true}',
    '{"_v":1,',
  ];
  const file = path.join(p.dir, 'rows.ndjson');
  await fs.writeFile(file, [good, ...bad].join('\n') + '\n');
  const r = await runCli(['lint', 'aggregate', 'rows.ndjson'], { cwd: p.dir });
  assert.is(r.code, 1);
  const expect = [/^rows\.ndjson:2: unknown key "user"$/m, /^rows\.ndjson:3: missing key "tenant"$/m, /^rows\.ndjson:4: "score": .*number/m, /^rows\.ndjson:5: "cost_usd_cents": expected whole cents/m, /^rows\.ndjson:6: "score": /m, /^rows\.ndjson:7: keys out of schema order/m, /^rows\.ndjson:8: not valid JSON/m];
  for (const re of expect) assert.match(r.stdout, re);
  assert.not.match(r.stdout, /rows\.ndjson:1:/);
  const script = await runCliScript(['state/lint/aggregate-schema.ts', file]);
  assert.is(script.code, 1);
  assert.is(script.stdout.split('\n').filter(Boolean).length, r.stdout.split('\n').filter(Boolean).length);
  await fs.writeFile(file, `${good}\n`);
  assert.is((await runCli(['lint', 'aggregate', 'rows.ndjson'], { cwd: p.dir })).code, 0);
});

async function runCliScript(args: string[]) {
  const { spawn } = await import('node:child_process');
  const { collect, ROOT } = await import('../../helpers/cli.ts');
  return collect(spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
}

test.run();
