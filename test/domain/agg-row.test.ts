import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AGG_KEYS, aggRowSchema, checkAggLine, formatAggRow } from '../../domain/agg-row.ts';
import { propertyParams } from '../helpers/seed.ts';

const params = propertyParams('domain/agg-row', 0x5eed_1001);

const good = { _v: 1, ts: '2024-05-01T10:00:00.000Z', skill: 'summarize:0123456789ab', score: 0.5, run_id: '0123456789abcdef', tenant: 'abcdef012345', cost_usd_cents: 3, ok: true };

test('a row written by formatAggRow passes, keys in schema order', () => {
  const line = formatAggRow(good as never);
  assert.equal(Object.keys(JSON.parse(line)), [...AGG_KEYS]);
  assert.equal(checkAggLine(line), { ok: true, row: good });
});

test('each kind of problem is named', () => {
  const bad = (o: Record<string, unknown>, re: RegExp) => {
    const r = checkAggLine(JSON.stringify(o));
    assert.is(r.ok, false, JSON.stringify(o));
    if (!r.ok) assert.match(r.reason, re);
  };
  bad({ ...good, extra: 1 }, /unknown key "extra"/);
  const { tenant: _t, ...noTenant } = good;
  bad(noTenant, /missing key "tenant"/);
  bad({ ...good, score: '0.5' }, /"score"/);
  bad({ ...good, score: 1.01 }, /"score"/);
  bad({ ...good, cost_usd_cents: 1.5 }, /"cost_usd_cents": expected whole cents/);
  bad({ ...good, cost_usd_cents: -1 }, /"cost_usd_cents"/);
  bad({ ...good, run_id: 'raw-run-id' }, /"run_id"/);
  bad({ ...good, ts: '2024-02-30T10:00:00.000Z' }, /"ts"/);
  bad({ ...good, ts: '2024-05-01T12:00:00+02:00' }, /"ts"/);
  bad({ ...good, skill: '../x' }, /"skill"/);
  bad({ ...good, _v: 2 }, /"_v"/);
  bad({ ok: true, _v: 1, ts: good.ts, skill: good.skill, score: 0.5, run_id: good.run_id, tenant: good.tenant }, /keys out of schema order/);
  assert.equal(checkAggLine('{"_v":1,'), { ok: false, reason: 'not valid JSON' });
  assert.equal(checkAggLine('[1]'), { ok: false, reason: 'not a JSON object' });
});

test('property: the fast path and zod always agree', () => {
  const row = fc.record(
    {
      _v: fc.constantFrom(1, 2),
      ts: fc.oneof(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()), fc.constant('2024-02-30T00:00:00.000Z')),
      skill: fc.constantFrom('a', 'a.', '..', 'x:0123456789ab', 'x:0123', 'ok-skill_1.2'),
      score: fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.constantFrom(0, 1, -0, 1e-7)),
      run_id: fc.constantFrom('0123456789abcdef', '0123456789ABCDEF', 'x'),
      tenant: fc.constantFrom('abcdef012345', 'abc'),
      cost_usd_cents: fc.oneof(fc.nat(), fc.constantFrom(1.5, -1, 2 ** 60)),
      ok: fc.oneof(fc.boolean(), fc.constant('true')),
    },
    { requiredKeys: ['_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'ok'] },
  );
  fc.assert(
    fc.property(row, (o) => {
      const ordered: Record<string, unknown> = {};
      for (const k of AGG_KEYS) if (k in o) ordered[k] = (o as Record<string, unknown>)[k];
      const line = JSON.stringify(ordered);
      const zod = aggRowSchema.safeParse(JSON.parse(line));
      const r = checkAggLine(line);
      assert.is(r.ok, zod.success, line);
      if (r.ok && zod.success) assert.equal(r.row, zod.data);
    }),
    params(3000),
  );
});

test.run();
