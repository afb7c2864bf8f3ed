import { promises as fs } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestEvalLog } from '../../../lifecycle/ingest.ts';
import { localRun } from '../../helpers/run.ts';
import { definePlugin } from '../../../core/plugin.ts';
import { createRunner } from '../../../core/runner.ts';
import aggregatePlugin from '../../../plugins/aggregate/index.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { referenceAggregate } from './reference.ts';
import { propertyParams } from '../../helpers/seed.ts';

const params = propertyParams('aggregate/chunks', 0x5eed_1004);

const KEY = 'chunk-key';
const piece = fc.oneof(
  fc.record({ ts: fc.integer({ min: 0, max: 4e12 }), skill: fc.constantFrom('a', 'b:0123456789ab'), score: fc.double({ min: 0, max: 1, noNaN: true }), run_id: fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }), ok: fc.boolean(), note: fc.string({ maxLength: 60, unit: 'binary' }) }).map((o) => JSON.stringify(o)),
  fc.constantFrom('', 'garbage', '{"ts":1}', '\u00e9\u00e9'),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
);

test('property: any chunk size, any mix of UTF-8, invalid bytes and malformed lines: rows as the reference says, offsets exact', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { maxLength: 25 }), fc.integer({ min: 1, max: 200 }), async (lines, chunk) => {
      const stateDir = tmpDir('snappy-chunks-');
      const log = path.join(stateDir, 'log', 'evals.ndjson');
      await fs.mkdir(path.dirname(log), { recursive: true });
      // Latin-1 lines stand for raw (possibly invalid UTF-8) bytes; the others are UTF-8 text.
      const bytes = Buffer.concat(lines.map((l) => Buffer.concat([/^[\x00-\xff]*$/.test(l) && /[\x80-\xff]/.test(l) && !/\u00e9\u00e9/.test(l) ? Buffer.from(l, 'latin1') : Buffer.from(l), Buffer.from('\n')])));
      await fs.writeFile(log, bytes);
      const runner = createRunner({ plugins: [{ plugin: aggregatePlugin }] });
      // Chunks at least as long as the longest line (the real ones are twice the line limit).
      const longest = Math.max(1, ...bytes.toString('latin1').split('\n').map((l) => l.length + 1));
      const res = await ingestEvalLog(localRun(stateDir, { machine: 'm', masterKey: KEY }), runner, { chunkBytes: longest + chunk });
      const ref = referenceAggregate(bytes, KEY);
      const out = await fs.readFile(path.join(stateDir, 'log', 'evals.aggregate.ndjson'), 'utf8').catch(() => '');
      assert.is(out, ref.lines.join(''));
      assert.is(res.malformed.length, ref.malformed);
    }),
    params(200),
  );
});

test('event offsets and line numbers point at the row in the file', async () => {
  const stateDir = tmpDir('snappy-chunks-');
  const log = path.join(stateDir, 'log', 'evals.ndjson');
  await fs.mkdir(path.dirname(log), { recursive: true });
  const rows = ['{"ts":1,"skill":"a","score":1,"run_id":"caf\u00e9","ok":true}', 'bad', '', '{"ts":2,"skill":"a","score":1,"run_id":"\u2603","ok":true}'];
  const bytes = Buffer.from(rows.join('\n') + '\n');
  await fs.writeFile(log, bytes);
  const got: { offset: number; line: number }[] = [];
  const probe = definePlugin({ name: 'probe', apply: (h) => h.afterEval.tapPromise('probe', async (_run, e) => void got.push(e)) });
  const runner = createRunner({ plugins: [{ plugin: probe }] });
  const res = await ingestEvalLog(localRun(stateDir, { machine: 'm' }), runner, { chunkBytes: 70 });
  assert.is(res.rows, 2);
  assert.equal(got.map((e) => e.line), [1, 4], 'afterEval fired once for each well-formed row');
  for (const e of got) assert.is(bytes.subarray(e.offset).toString('utf8').split('\n')[0], rows[e.line - 1]);
  assert.equal(res.malformed.map((m) => m.line), [2]);
});

test.run();
