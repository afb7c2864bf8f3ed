import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEvalLine, parseEvalSpan, validateEvalRow, type ParseResult } from '../../domain/eval-row.ts';
import { referenceEvalRow } from '../plugins/aggregate/reference.ts';
import { propertyParams } from '../helpers/seed.ts';

const params = propertyParams('domain/eval-row', 0x5eed_1003);

/**
 * The reference: JSON.parse, then docs/contract.md §5's rules as test/plugins/aggregate/reference.ts
 * writes them, independently of domain/. It decides which rows are well-formed and what
 * their fields are; how a refusal is worded is the implementation's own business.
 */
function reference(line: string): ParseResult | { ok: false } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false };
  }
  const row = referenceEvalRow(v);
  return row ? { ok: true, row } : { ok: false };
}

/** The implementation's slow path (JSON.parse + its rules): the scanner must word refusals as it does. */
function viaJsonParse(line: string): ParseResult {
  try {
    return validateEvalRow(JSON.parse(line));
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
}

function same(line: string, got: ParseResult = parseEvalLine(line)): void {
  const want = reference(line);
  assert.is(got.ok, want.ok, `${JSON.stringify(line)}: the implementation ${got.ok ? 'accepts' : `refuses (${got.reason})`}, the reference ${want.ok ? 'accepts' : 'refuses'}`);
  if (got.ok && want.ok) assert.equal(got.row, want.row, line);
  if (!got.ok) assert.is(got.reason, (viaJsonParse(line) as { reason: string }).reason, `${JSON.stringify(line)}: the scanner words the refusal differently from JSON.parse + the rules`);
}

test('the field scanner agrees with JSON.parse on hand-picked edge cases', () => {
  const lines = [
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true}',
    ' { "ts" : 1714557600000 , "skill" : "a" , "score" : 1 , "run_id" : "r" , "ok" : false } ',
    '{"ts":"2024-05-01T10:00:00+02:00","verb":"  b  ","score":0,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","verb":"b","score":0.5,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"\\u0061","score":0.5,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r\\"q","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":5e-1,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5E+0,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":-0,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"score":0.9}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"x":{"y":[1,2,{"z":"\\n"}]}}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"x":"tab\there"}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"x":"bad \\x escape"}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"x":01}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":.5,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":tru}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true} x',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"cost_usd":null}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"cost_usd":0.015,"cost_usd_cents":3.2}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"cost_usd":"1"}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"cost_usd":1e400}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":["r"],"ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":{"a":1},"score":0.5,"run_id":"r","ok":true}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"\\u0078":1}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true,"__proto__":{"ts":1}}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"caf\u00e9 \u2603 \ud83d\ude00","ok":true}',
    '{"ts":"2024-13-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true}',
    '{"ts":1e20,"skill":"a","score":0.5,"run_id":"r","ok":true}',
    '[1,2]',
    '"str"',
    '{}',
    '{"ts":"2024-05-01T10:00:00Z" "skill":"a"}',
    '{"ts":"2024-05-01T10:00:00Z","skill":"a","score":0.5,"run_id":"r","ok":true',
  ];
  for (const l of lines) same(l);
});

const wanted = ['ts', 'skill', 'verb', 'score', 'run_id', 'ok', 'cost_usd', 'cost_usd_cents'];
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('2024-05-01T10:00:00Z', '2024-05-01', 'summarize', ' triage ', 'a:0123456789ab', 'r-1', ''),
  fc.double({ noNaN: true, min: -2, max: 2 }),
  fc.integer({ min: 0, max: 2e12 }),
  fc.boolean(),
);
const rowArb = fc
  .uniqueArray(fc.tuple(fc.oneof(fc.constantFrom(...wanted), fc.string({ maxLength: 6 })), value), { selector: (t) => t[0], maxLength: 12 })
  .map((entries) => JSON.stringify(Object.fromEntries(entries)));

test('property: the scanner agrees with the reference on random rows', () => {
  fc.assert(fc.property(rowArb, (line) => same(line)), params(3000));
});

test('property: ...and on random corruptions of them (a byte dropped, inserted or swapped)', () => {
  const edit = fc.tuple(rowArb, fc.nat(), fc.constantFrom('', '"', '\\', ',', '}', '{', ' ', '\t', '0', 'e', '\u00e9', ':'), fc.boolean());
  fc.assert(
    fc.property(edit, ([line, at, ch, drop]) => {
      const i = line.length ? at % line.length : 0;
      same(line.slice(0, i) + ch + line.slice(i + (drop ? 1 : 0)));
    }),
    params(4000),
  );
});

test('property: well-formed rows with escapes and whitespace parse the same inside a larger text', () => {
  const good = fc.record({
    ts: fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.constant('2024-05-01T10:00:00.5+01:00')),
    skill: fc.constantFrom('a', 'summarize', 'x.y-z_1', 'a:0123456789ab'),
    score: fc.double({ min: 0, max: 1, noNaN: true }),
    run_id: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
    ok: fc.boolean(),
    extra: fc.jsonValue({ maxDepth: 3 }),
  });
  fc.assert(
    fc.property(good, fc.constantFrom('', ' ', '  '), (row, pad) => {
      const line = pad + JSON.stringify(row, null, pad ? 1 : 0).replace(/\n/g, ' ') + pad;
      const text = `junk\n${line}\nmore`;
      same(line, parseEvalSpan(text, 5, 5 + line.length));
    }),
    params(1500),
  );
});

test('property: short decimals (the scanner computes them without Number()) equal JSON.parse exactly', () => {
  const decimal = fc.tuple(fc.bigInt({ min: 0n, max: 999_999_999_999_999n }), fc.nat({ max: 15 }), fc.boolean()).map(([n, k, neg]) => {
    const digits = n.toString().padStart(k + 1, '0');
    const text = k ? `${digits.slice(0, -k)}.${digits.slice(-k)}` : digits;
    return (neg ? '-' : '') + text;
  });
  fc.assert(
    fc.property(decimal, (num) => {
      const line = `{"ts":1,"skill":"a","score":${num},"run_id":"r","ok":true,"cost_usd_cents":${num.replace('-', '')}}`;
      same(line);
    }),
    params(5000),
  );
});

test('a malformed row is named with the reason', () => {
  assert.equal(parseEvalLine('{"ts":"x","skill":"a","score":0.5,"run_id":"r","ok":true}'), { ok: false, reason: '"ts" is not an ISO-8601 time' });
  assert.equal(parseEvalLine('{"ts":1,"skill":"a","score":1.5,"run_id":"r","ok":true}'), { ok: false, reason: '"score" must be within [0, 1]' });
  assert.equal(parseEvalLine('nope'), { ok: false, reason: 'not valid JSON' });
});

test.run();
