import { createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AGG_KEYS, checkAggLine } from '../../../domain/agg-row.ts';
import { RunIdHmac } from '../../../plugins/aggregate/hmac.ts';
import { inProcess } from './inproc.ts';
import { propertyParams } from '../../helpers/seed.ts';

const params = propertyParams('aggregate/privacy', 0x5eed_1005);

const KEY = 'privacy-key';
// Private values are drawn from characters no aggregate row can contain (schema keys, hex,
// ISO times and the skill names used here never use them): if any of them shows up in the
// output, a private field leaked.
const PRIVATE = 'GHJKMNPQRSWXY!#$%&*@^~|<>?\u00e9\u2603\u4e2d'.split('');
const privateString = fc.string({ unit: fc.constantFrom(...PRIVATE), minLength: 1, maxLength: 40 });
const privateValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, privateString, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(privateString, tie('v'), { maxKeys: 3 })),
})).v;
const evalRow = fc.record({
  ts: fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())),
  skill: fc.constantFrom('summarize', 'triage', 'summarize:0123456789ab'),
  score: fc.double({ min: 0, max: 1, noNaN: true }),
  run_id: privateString,
  ok: fc.boolean(),
  cost: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
  extra: fc.dictionary(privateString, privateValue, { maxKeys: 4 }),
});

test('property: no byte of a non-schema field, and no raw run_id, ever reaches the aggregate', async () => {
  const allowed = new Set('{}[]":,_-.+0123456789abcdefghijklmnopqrstuvwxyzTZ'.split(''));
  await fc.assert(
    fc.asyncProperty(fc.array(evalRow, { minLength: 1, maxLength: 15 }), async (rows) => {
      const t = await inProcess(KEY);
      const text = rows.map((r) => JSON.stringify({ ...r.extra, ts: r.ts, skill: r.skill, score: r.score, run_id: r.run_id, ok: r.ok, ...(r.cost === undefined ? {} : { cost_usd: r.cost }) })).join('\n') + '\n';
      await fs.writeFile(t.log, text);
      await t.ingest();
      const out = await fs.readFile(t.agg, 'utf8');
      for (const ch of out) if (ch !== '\n') assert.ok(allowed.has(ch), `byte ${JSON.stringify(ch)} is not one the schema can produce: ${out}`);
      const lines = out.split('\n').filter(Boolean);
      assert.is(lines.length, rows.length);
      lines.forEach((l, i) => {
        const c = checkAggLine(l);
        assert.ok(c.ok, l);
        assert.equal(Object.keys(JSON.parse(l)), AGG_KEYS.filter((k) => k !== 'cost_usd_cents' || rows[i]!.cost !== undefined));
        assert.is(JSON.parse(l).run_id, createHmac('sha256', KEY).update(rows[i]!.run_id).digest('hex').slice(0, 16));
      });
    }),
    params(150),
  );
});

test('property: the precomputed HMAC equals node:crypto for any key and message', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 150, unit: 'binary' }), fc.string({ maxLength: 200, unit: 'binary' }), (key, msg) => {
      assert.is(new RunIdHmac(key).hex16(msg), createHmac('sha256', key).update(msg).digest('hex').slice(0, 16));
    }),
    params(3000),
  );
});

test.run();
