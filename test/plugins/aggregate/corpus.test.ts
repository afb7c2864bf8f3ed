import { createHash, createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../helpers/cli.ts';
import { project, readText, runAggregate } from './helpers.ts';
import { referenceAggregate } from './reference.ts';

const KEY = 'corpus-master-key';
const base = { ts: '2024-05-01T10:00:00Z', skill: 'summarize', score: 0.5, ok: true };
let n = 0;
const row = (o: Record<string, unknown>) => JSON.stringify({ ...base, run_id: `r${++n}`, ...o });

/** The edge cases of docs/contract.md §5-6, as raw bytes of one log. */
function corpus(): Buffer {
  const lines: (string | Buffer)[] = [
    row({}),
    row({ note: 'quote " backslash \\ newline \n tab \t nul \u0000 unicode caf\u00e9 \u2603 \ud83d\ude00' }),
    '{"ts":"2024-05-01T10:00:00Z","skill":"\\u0073ummarize","score":0.5,"run_id":"esc-\\"q\\"","ok":true}',
    row({ score: 5e-1 }),
    row({ score: 1e-7 }),
    row({ score: 1 }),
    row({ score: 0 }),
    row({ ts: '2024-05-01T12:00:00+02:00' }),
    row({ ts: '2024-05-01T12:00:00.123-0530' }),
    row({ ts: '2024-05-01' }),
    row({ ts: 1714557600000 }),
    row({ ts: 1714557600000.9 }),
    row({ ts: 0 }),
    row({ skill: undefined, verb: ' legacy ' }),
    row({ skill: 'wins', verb: 'loses' }),
    row({ skill: 'summarize:0123456789ab' }),
    row({ skill: '  padded  ' }),
    row({ cost_usd: 0.015 }),
    row({ cost_usd: 0.001 }),
    row({ cost_usd: 0.285 }),
    row({ cost_usd: 1.005 }),
    row({ cost_usd: 0 }),
    row({ cost_usd: 2e-9 }),
    row({ cost_usd_cents: 0.4 }),
    row({ cost_usd_cents: 2.5 }),
    row({ cost_usd_cents: 7, cost_usd: 99 }),
    row({ cost_usd: null }),
    row({ run_id: 'ünïcödé run ☃' }),
    row({ ok: false, extra: { nested: [1, { deep: 'x' }] } }),
    '',
    '   ',
    'not json',
    '{"ts":"2024-05-01T10:00:00Z"',
    row({ score: 1.5 }),
    row({ score: '0.5' }),
    row({ ts: 'yesterday' }),
    row({ skill: '../etc' }),
    row({ skill: 'a:notarev' }),
    row({ run_id: '' }),
    row({ ok: 'yes' }),
    row({ cost_usd: -1 }),
    row({ cost_usd_cents: '3' }),
    '[1,2,3]',
    Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // invalid UTF-8
    Buffer.concat([Buffer.from(row({}).slice(0, -1)), Buffer.from(',"bad":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    row({ blob: 'x'.repeat(300_000) }), // big but allowed
    row({ blob: 'y'.repeat((1 << 20) + 10) }), // longer than the line limit
    row({ after: 'the huge line' }),
  ];
  const parts = lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')]));
  return Buffer.concat(parts);
}

test('the edge-case corpus aggregates exactly as the JSON.parse reference says, malformed rows counted', async () => {
  const p = await project();
  const log = corpus();
  const half = Buffer.from(row({ half: 'written' }));
  await fs.writeFile(p.log, Buffer.concat([log, half.subarray(0, 30)]));
  const ref = referenceAggregate(log, KEY);
  assert.ok(ref.lines.length > 25 && ref.malformed > 10, 'the corpus has both kinds');

  const r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  assert.is(await readText(p.agg), ref.lines.join(''));
  assert.is(r.json.reports.aggregate.rows, ref.lines.length);
  assert.is(r.json.reports.aggregate.malformed, ref.malformed);
  // Each malformed row reported once, with its line number and reason.
  assert.match(r.stderr, /evals\.ndjson:32: not valid JSON/);
  assert.match(r.stderr, /evals\.ndjson:34: "score" must be within \[0, 1\]/);
  assert.match(r.stderr, /invalid UTF-8/);
  assert.match(r.stderr, /line longer than/);

  // The half-written last line is left for the next run; a rerun adds only it, once.
  await fs.appendFile(p.log, Buffer.concat([half.subarray(30), Buffer.from('\n')]));
  const again = await runAggregate(p.dir, KEY);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.json.reports.aggregate.rows, 1);
  assert.is(again.json.reports.aggregate.malformed, 0);
  assert.not.match(again.stderr, /not valid JSON/, 'malformed rows are reported once, not on every run');
  const full = referenceAggregate(await fs.readFile(p.log), KEY);
  assert.is(await readText(p.agg), full.lines.join(''));

  const third = await runAggregate(p.dir, KEY);
  assert.is(third.json.reports.aggregate.rows, 0);
  assert.is(await readText(p.agg), full.lines.join(''));

  const lint = await runCli(['lint', 'aggregate', '--state', p.state], { cwd: p.dir });
  assert.is(lint.code, 0, lint.stdout + lint.stderr);
});

test('rows are projected key by key: 0.015 USD is 2 cents, skill from verb trimmed, run_id is the HMAC', async () => {
  const p = await project();
  await fs.writeFile(p.log, `${JSON.stringify({ ts: 1714557600000, verb: ' legacy ', score: 0.25, run_id: 'run-42', ok: false, cost_usd: 0.015, secret: 'hush' })}\n`);
  const r = await runAggregate(p.dir, KEY);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(await readText(p.agg));
  assert.equal(Object.keys(out), ['_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'cost_usd_cents', 'ok']);
  // Computed here with node:crypto, as docs/contract.md §2 words them: not read back from the output.
  const runId = createHmac('sha256', KEY).update('run-42').digest('hex').slice(0, 16);
  const tenant = createHash('sha256').update(KEY).digest('hex').slice(0, 12);
  assert.equal(out, { _v: 1, ts: '2024-05-01T10:00:00.000Z', skill: 'legacy', score: 0.25, run_id: runId, tenant, cost_usd_cents: 2, ok: false });
});

test.run();
