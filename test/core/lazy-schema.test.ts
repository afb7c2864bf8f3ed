// core/lazy-schema.ts: schemas made on first use, and parses remembered between runs (the
// built CLI's no-op cron run validates its config without loading zod). What the memo gives
// back must be exactly what the schema would have, and nothing it cannot vouch for is kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { lazySchema, useParseMemo, type ParseMemo } from '../../core/lazy-schema.ts';
import { configSchema } from '../../core/config.ts';
import { regenOptionsSchema } from '../../plugins/regen/options.ts';
import { syncOptionsSchema } from '../../plugins/sync/options.ts';

/** A memo over a Map, counting what it was asked. */
function mapMemo(): ParseMemo & { entries: Map<string, string>; hits: number } {
  const entries = new Map<string, string>();
  const memo = {
    entries,
    hits: 0,
    get: (k: string) => {
      const v = entries.get(k);
      if (v !== undefined) memo.hits++;
      return v;
    },
    set: (k: string, v: string) => void entries.set(k, v),
  };
  return memo;
}

test.after.each(() => useParseMemo(undefined));

test('a lazy schema is made on its first use, once, and not by awaiting it', async () => {
  let made = 0;
  const s = lazySchema(() => {
    made++;
    return z.object({ a: z.number().default(1) }).strict();
  });
  const awaited = await Promise.resolve(s); // `await` asks a value for its `then`
  assert.is(made, 0, 'awaiting the schema made it');
  assert.is(awaited, s);
  assert.equal(s.parse({}), { a: 1 });
  assert.is(s.safeParse({ a: 'x' }).success, false);
  assert.ok(s._zod.def, 'the real schema shows through');
  assert.is(made, 1);
});

test('with a memo, the second parse of the same input is the memo\'s, equal to the schema\'s own, defaults included', () => {
  const memo = mapMemo();
  useParseMemo(memo);
  let made = 0;
  const s = lazySchema(() => {
    made++;
    return z.object({ allow: z.array(z.string()).default(['x']), n: z.number().int().default(3) }).strict();
  }, 'test.defaults');
  const first = s.parse({ n: 5 });
  assert.equal(first, { allow: ['x'], n: 5 });
  assert.is(memo.entries.size, 1);
  // A fresh lazy schema of the same id (a later run): answered from the memo, never made.
  made = 0;
  const later = lazySchema(() => {
    made++;
    return z.object({ allow: z.array(z.string()) }).strict();
  }, 'test.defaults');
  const again = later.safeParse({ n: 5 });
  assert.ok(again.success);
  assert.equal(again.data, first);
  assert.is(made, 0, 'a remembered parse made the schema');
  assert.is(memo.hits, 1);
  // Each answer is a copy of its own: changing one changes no other.
  (again.data as { allow: string[] }).allow.push('y');
  assert.equal(later.parse({ n: 5 }), first);
});

test('failures are never remembered: a bad input is refused every time, with the schema\'s own issues', () => {
  const memo = mapMemo();
  useParseMemo(memo);
  const s = lazySchema(() => z.object({ n: z.number() }).strict(), 'test.fail');
  for (let i = 0; i < 2; i++) {
    const r = s.safeParse({ n: 'no' });
    assert.is(r.success, false);
    assert.match(JSON.stringify(r.error!.issues), 'number');
  }
  assert.throws(() => s.parse({ n: 'no' }));
  assert.is(memo.entries.size, 0);
});

test('what is not plain data is parsed every time: functions, class instances, non-finite numbers, getters, symbols', () => {
  const memo = mapMemo();
  useParseMemo(memo);
  const s = lazySchema(() => z.object({ v: z.unknown().optional() }).strict(), 'test.plain');
  const getter = Object.defineProperty({}, 'v', { get: () => 1, enumerable: true });
  const hidden = Object.defineProperty({ v: 1 }, 'h', { value: 2, enumerable: false });
  for (const input of [{ v: () => 1 }, { v: new Date(0) }, { v: Number.NaN }, { v: Infinity }, { v: -0 }, getter, hidden, { v: 1, [Symbol('s')]: 1 }, { v: [1, , 3] }]) {
    assert.ok(s.safeParse(input).success);
  }
  assert.is(memo.entries.size, 0, `kept: ${[...memo.entries.keys()].join(' | ')}`);
  // An output holding undefined would not come back from JSON as it was: not kept.
  assert.equal(Object.keys(s.parse({ v: undefined })), ['v']);
  assert.is(memo.entries.size, 0);
  // A plain output of a plain input is kept.
  s.parse({});
  s.parse({ v: { a: [1, 'x', null, true] } });
  assert.is(memo.entries.size, 2);
});

test('an input with an undefined value and one without it are different keys', () => {
  const memo = mapMemo();
  useParseMemo(memo);
  // The strict schema refuses an unknown key even when its value is undefined.
  const s = lazySchema(() => z.object({ a: z.number().optional() }).strict(), 'test.undef');
  assert.ok(s.safeParse({}).success);
  assert.is(s.safeParse({ b: undefined }).success, false, 'a remembered {} answered for { b: undefined }');
});

test('a damaged memo entry is a miss, not an answer', () => {
  const memo = mapMemo();
  useParseMemo(memo);
  const s = lazySchema(() => z.object({ n: z.number() }).strict(), 'test.damaged');
  s.parse({ n: 1 });
  const [key] = [...memo.entries.keys()];
  memo.entries.set(key!, '{"n": 1'); // cut short
  assert.equal(s.parse({ n: 1 }), { n: 1 });
});

test('the config and the built-in plugins\' schemas answer the same with and without the memo', () => {
  const inputs: [typeof configSchema | typeof regenOptionsSchema | typeof syncOptionsSchema, unknown][] = [
    [configSchema, { regen: { agent: ['node', 'a.mjs'] }, tenants: { '0123456789ab': { sync: { concurrency: 2 } } } }],
    [configSchema, {}],
    [regenOptionsSchema, { agent: ['llm', '-s', 'x'], pid: { setpoint: 0.7 }, skills: { s: { timeoutMs: 10 } } }],
    [syncOptionsSchema, { deny: ['log/**'] }],
  ];
  const plain = inputs.map(([s, v]) => s.parse(v));
  const memo = mapMemo();
  useParseMemo(memo);
  const first = inputs.map(([s, v]) => s.parse(v));
  const second = inputs.map(([s, v]) => s.parse(v));
  assert.equal(first, plain);
  assert.equal(second, plain);
  assert.is(memo.hits, inputs.length);
  // A regen agent given as a function is not data: never remembered, still validated.
  const fn = async () => 'page';
  const r = regenOptionsSchema.parse({ agent: fn });
  assert.is(r.agent, fn);
  assert.is(memo.entries.size, inputs.length);
});

test.run();
