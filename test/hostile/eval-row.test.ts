import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEvalChunk } from '../../adapters/eval-log.ts';
import { MAX_LINE_BYTES, parseEvalLine, validateEvalRow, type EvalRow, type ParseResult } from '../../domain/eval-row.ts';
import { fuzzSeed, runs } from '../helpers/seed.ts';

// Hostile input for the eval-row parser (domain/eval-row.ts) and the chunk parser the ingest
// runs (adapters/eval-log.ts parseEvalChunk over the field scanner domain/eval-scan.ts).
const seed = fuzzSeed('hostile/eval-row', 0x5eed_0001);
const params = (n: number) => ({ seed, numRuns: runs(n), endOnFailure: true });

/** What JSON.parse + the rules say: the scanner must always agree with it. */
function reference(line: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  return validateEvalRow(v);
}

const FIELDS = ['ts', 'skill', 'verb', 'score', 'run_id', 'ok', 'cost_usd', 'cost_usd_cents'] as const;
type Field = (typeof FIELDS)[number];
const REASON = /^(?:not valid JSON|not a JSON object|missing "(ts|score|run_id|ok)"|missing "(skill)" \(or legacy "verb"\)|"(ts|skill|verb|score|run_id|ok|cost_usd|cost_usd_cents)":? .+)$/;

/** The field a refusal names, or throws when the reason names none. */
function fieldOf(reason: string): Field | 'json' {
  const m = REASON.exec(reason);
  if (!m) throw new Error(`refusal names no field: ${JSON.stringify(reason)}`);
  return ((m[1] ?? m[2] ?? m[3]) as Field | undefined) ?? 'json';
}

// Written here from docs/contract.md §2/§5, not imported: an accepted row must satisfy them on its own.
const SKILL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
function assertSane(row: EvalRow, line: string): void {
  const where = `accepted ${JSON.stringify(line.slice(0, 300))}`;
  assert.ok(SKILL.test(row.skill) && row.skill !== '..' && !row.skill.endsWith('.'), `${where}: skill ${JSON.stringify(row.skill)}`);
  assert.ok(!row.skill.includes('/') && !row.skill.includes('\\') && !row.skill.startsWith('.'), `${where}: skill is a path`);
  if (row.rev !== undefined) assert.ok(/^[0-9a-f]{12}$/.test(row.rev), `${where}: rev ${row.rev}`);
  assert.ok(Number.isFinite(row.ts) && Math.abs(row.ts) <= 8.64e15, `${where}: ts ${row.ts}`);
  assert.ok(typeof row.score === 'number' && row.score >= 0 && row.score <= 1, `${where}: score ${row.score}`);
  assert.ok(typeof row.runId === 'string' && row.runId.length > 0, `${where}: run_id`);
  assert.type(row.ok, 'boolean', `${where}: ok`);
  if (row.costCents !== undefined) assert.ok(Number.isSafeInteger(row.costCents) && row.costCents >= 0, `${where}: cents ${row.costCents}`);
}

/** Runs one line through both parsers: never throws, agrees with the reference, accepts only sane rows, names the field. */
function check(line: string): ParseResult {
  let got: ParseResult;
  try {
    got = parseEvalLine(line);
  } catch (err) {
    throw new Error(`parseEvalLine threw ${(err as Error).message} on ${JSON.stringify(line.slice(0, 300))}`);
  }
  assert.equal(got, reference(line), `scanner and JSON.parse disagree on ${JSON.stringify(line.slice(0, 300))}`);
  if (got.ok) assertSane(got.row, line);
  else fieldOf(got.reason);
  return got;
}

// Raw JSON text per field, good or bad, written as text so NaN, 1e309 and -0 reach the parser as typed.
const pool = (good: string[], bad: string[]) => fc.oneof(fc.constantFrom(...good).map((t) => ({ t, ok: true })), fc.constantFrom(...bad).map((t) => ({ t, ok: false })));
const q = (s: string) => JSON.stringify(s);
const BAD_NAMES = ['', ' ', '.', '..', '../etc', '../../../etc/passwd', '/etc/passwd', '/abs', 'a/b', 'a/../b', 'a\\b', '..\\x', '.hidden', 'a.', 'x'.repeat(129), 'a\u0000b', 'a b', 'ä', 'a\u202eb', 'a:', 'a:0123', 'a:0123456789AB', 'a:../0123456789', ':0123456789ab', 'C:\\windows', '~root', '%2e%2e', 'a\nb', 'a:0123456789ab:0123456789ab', 'a:0123456789ab/', 'skill\ud800'];
const GOOD_NAMES = ['summarize', 'a', 'A1.b_c-d', 'x'.repeat(128), 'summarize:0123456789ab', ' padded ', 'v1.2', '9lives'];
const name = pool(GOOD_NAMES.map(q), [...BAD_NAMES.map(q), '1', 'null', 'true', '[]', '{}', '["a"]', '{"skill":"a"}']);
const ts = pool(
  [q('2024-05-01T10:00:00Z'), q('2024-05-01T10:00:00.123+02:00'), q('2024-05-01'), q('2024-05-01 10:00'), '1714557600000', '0', '-0', '8.64e15', '-8.64e15', '1.5', '1e3'],
  ['NaN', 'Infinity', '-Infinity', '1e309', '-1e309', '8640000000000001', q('NaN'), q('2024-13-01'), q('yesterday'), q('1714557600000'), q('../2024-05-01'), 'null', 'true', '[]', '{}', '0x10', '01', '.5', '+1', '1.'],
);
const score = pool(['0', '1', '0.5', '-0', '-0.0', '5e-1', '1E0', '1e-400', '0.0000001', '1.0', '0.1234567890123456789'], ['1.0000001', '-1e-300', '2', '1e309', '-1e309', 'NaN', '-NaN', q('0.5'), 'null', '01', '.5', '+1', '0x1', '1.', 'true', '[0.5]', '1e', '--1']);
const runId = pool([q('r'), q('../../etc/passwd'), q('/abs'), q('\u0000'), '"\\u0000"', q('x'.repeat(1000)), q('💥')], [q(''), '1', 'null', '[]', 'true', '{}']);
const ok = pool(['true', 'false'], [q('true'), '1', '0', 'null', 'True', '[]']);
// Too large for whole cents (a valid number, so it only matters for the cost field actually used).
const BIG_USD = ['1e15', '1e300', '9007199254740993'];
const BIG_CENTS = ['1e300', '9007199254740993'];
const costOf = (good: string[], big: string[]) =>
  fc.oneof(pool(good, ['-1', '-0.0001', '1e309', 'NaN', q('1'), 'true', '[]', '{}']), fc.constantFrom(...big).map((t) => ({ t, ok: false, big: true })));
const costUsd = costOf(['null', '0', '-0', '0.015', '1e-9', '1e3', '12.5', '1e12'], BIG_USD);
const costCents = costOf(['null', '0', '-0', '0.015', '1e-9', '1e3', '12.5', '1e15'], BIG_CENTS);
const junkValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constantFrom('"../../etc/passwd"', '{"ts":1,"skill":"../x"}', '"\\ud800"', '[[[[[]]]]]', '"' + 'p'.repeat(5000) + '"'));
const junkKey = fc.oneof(
  fc.string({ maxLength: 12 }).filter((k) => !(FIELDS as readonly string[]).includes(k)).map(q),
  fc.constantFrom('"__proto__"', '"constructor"', '"prototype"', '"../x"', '"/etc/passwd"', '"tenant"', '"machine"', '""', '"Skill"', '"skill "'),
);
/** A field's key written with a \u escape (`"\u0073kill"`): JSON.parse reads it as the field itself. */
const escapedKey = (f: string) => `"\\u${f.charCodeAt(0).toString(16).padStart(4, '0')}${f.slice(1)}"`;
const ws = fc.constantFrom('', '', '', ' ', '\t', '\r', '  \t ');

interface Built {
  line: string;
  /** The field values as the row carries them (last occurrence wins, as in JSON.parse). */
  fields: Partial<Record<Field, { t: string; ok: boolean; big?: boolean }>>;
}

const rowText = fc
  .record({
    ts, skill: name, verb: name, score, run_id: runId, ok, cost_usd: costUsd, cost_usd_cents: costCents,
    present: fc.record({ ts: fc.nat(19), skill: fc.nat(19), verb: fc.nat(19), score: fc.nat(19), run_id: fc.nat(19), ok: fc.nat(19), cost_usd: fc.nat(3), cost_usd_cents: fc.nat(3) }),
    extra: fc.array(fc.tuple(junkKey, junkValue), { maxLength: 4 }),
    dup: fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.boolean(), fc.oneof(junkValue, fc.constantFrom('1', '"x"', 'null'))), { maxLength: 2 }),
    order: fc.array(fc.nat(1000), { minLength: 16, maxLength: 16 }),
    spaces: fc.array(ws, { minLength: 64, maxLength: 64 }),
  })
  .map((g): Built => {
    const fields: Built['fields'] = {};
    // present: skill present 19/20, verb 1/4 of the time, costs 1/4.
    const on = (f: Field) => (f === 'verb' ? g.present.verb < 5 : f.startsWith('cost') ? g.present[f] === 0 : g.present[f] !== 0);
    const parts: [string, string][] = [];
    // Shadowed copies of fields (plain or \u-escaped keys) come first: the later real field wins.
    const dups = g.dup.filter(([k]) => on(k));
    for (const [k, esc, v] of dups) parts.push([esc ? escapedKey(k) : q(k), v]);
    for (const f of FIELDS) if (on(f)) {
      fields[f] = g[f];
      parts.push([q(f), g[f].t]);
    }
    parts.push(...g.extra);
    // Shuffle, keeping each duplicate before the field it shadows (JSON.parse keeps the last).
    const keyed = parts.map((p, i) => ({ p, k: i < dups.length ? -1 - i : g.order[i % 16]! }));
    keyed.sort((a, b) => a.k - b.k);
    let s = 0;
    const sp = () => g.spaces[s++ % 64]!;
    const line = `${sp()}{${keyed.map(({ p }) => `${sp()}${p[0]}${sp()}:${sp()}${p[1]}${sp()}`).join(',')}}${sp()}`;
    return { line, fields };
  });

test('property: hostile fields (../ and absolute names, NaN/1e309/-0 as text, unknown keys) are judged right and the refusal names the field', () => {
  fc.assert(
    fc.property(rowText, ({ line, fields }) => {
      const got = check(line);
      const bad: Field[] = [];
      for (const f of ['ts', 'score', 'run_id', 'ok', 'cost_usd', 'cost_usd_cents'] as const) {
        const v = fields[f];
        if (f.startsWith('cost') ? v && !v.ok && !v.big : !v || !v.ok) bad.push(f);
      }
      // cents = cost_usd_cents when given (not null), else cost_usd x 100: only that one can be too large.
      const cents = fields.cost_usd_cents;
      const used = cents && cents.t !== 'null' ? 'cost_usd_cents' : 'cost_usd';
      if (fields[used]?.big && !bad.includes('cost_usd') && !bad.includes('cost_usd_cents')) bad.push(used);
      const who = fields.skill ? 'skill' : 'verb';
      if (!fields[who]?.ok) bad.push(who === 'verb' && !fields.verb ? 'skill' : who);
      if (bad.length === 0) assert.ok(got.ok, `refused a good row: ${line} -> ${got.ok ? '' : got.reason}`);
      else {
        assert.not.ok(got.ok, `accepted a row with bad ${bad.join(', ')}: ${line}`);
        if (!got.ok) {
          const named = fieldOf(got.reason);
          const notJson = Object.values(fields).some((v) => !isJson(v.t));
          assert.ok(named === 'json' ? notJson : bad.includes(named), `the refusal ${JSON.stringify(got.reason)} names ${named}, not one of the bad fields ${bad.join(', ')}: ${line}`);
        }
      }
    }),
    params(8000),
  );
});

test('property: arbitrary strings, JSON values and corrupted rows never throw and never disagree', () => {
  const good = '{"ts":"2024-05-01T10:00:00Z","skill":"summarize:0123456789ab","score":0.5,"run_id":"r","ok":true,"cost_usd":0.015,"note":{"a":[1,"\\n"]}}';
  const corrupt = fc.tuple(fc.nat(good.length), fc.nat(good.length), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(2)).map(([i, j, s, mode]) =>
    mode === 0 ? good.slice(0, i) + s + good.slice(i) : mode === 1 ? good.slice(0, Math.min(i, j)) + good.slice(Math.max(i, j)) : good.slice(0, i) + s + good.slice(i + s.length),
  );
  const line = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), corrupt);
  fc.assert(fc.property(line, (l) => void check(l)), params(8000));
});

test('huge and deeply nested lines: no throw, no stack overflow, the same answer as JSON.parse', () => {
  const pad = (n: number) => `{"ts":0,"skill":"a","score":1,"run_id":"r","ok":true,"pad":"${'x'.repeat(n)}"}`;
  const lines = [
    pad(MAX_LINE_BYTES),
    '['.repeat(200_000),
    '{"a":'.repeat(100_000),
    `{"ts":0,"skill":"a","score":1,"run_id":"r","ok":true,"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    `{"ts":0,"skill":"${'a'.repeat(1_000_000)}","score":1,"run_id":"r","ok":true}`,
    `{"ts":0,"skill":"a","score":0.${'9'.repeat(100_000)},"run_id":"r","ok":true}`,
    `{"ts":0,"skill":"a","score":1e${'9'.repeat(1000)},"run_id":"r","ok":true}`,
    `{"ts":${'1'.repeat(400)},"skill":"a","score":1,"run_id":"r","ok":true}`,
  ];
  const answers = lines.map((l) => check(l));
  assert.ok(answers[0]!.ok, 'a long but well-formed row is still a row');
  // 0.999...9 (100,000 nines) is 1 as a double, as JSON.parse reads it: a valid score.
  assert.equal(answers.slice(1).map((a) => a.ok), [false, false, true, false, true, false, false]);
});

// Byte-level: what the ingest reads from log/evals.ndjson.
const INVALID_UTF8 = [[0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff], [0xfe], [0xe2, 0x82], [0xf0, 0x9f, 0x92]];
const GOOD_LINE = (i: number) => Buffer.from(JSON.stringify({ ts: 1714557600000 + i, skill: 'summarize', score: 0.5, run_id: `r-${i}-é💥`, ok: true, prompt: 'private ✓' }));
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.nat(1000).map(GOOD_LINE) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) },
  { weight: 2, arbitrary: fc.tuple(fc.nat(1000), fc.constantFrom(...INVALID_UTF8), fc.nat(200)).map(([i, bad, at]) => {
    const g = GOOD_LINE(i);
    const p = at % g.length;
    return Buffer.concat([g.subarray(0, p), Buffer.from(bad), g.subarray(p)]);
  }) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from(''), Buffer.from('   '), Buffer.from('\r'), Buffer.from('\u00a0\ufeff'), Buffer.from('{"ts":0,"skill":"../x","score":1,"run_id":"r","ok":true}')) },
);

test('property: byte chunks with invalid UTF-8 and raw bytes: every line is a row, refused with a reason, or blank; rows equal parseEvalLine', () => {
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 30 }), fc.nat(1_000_000), (segs, base) => {
      const lines = segs.flatMap((b) => splitNl(b));
      const buf = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
      const out = parseEvalChunk(buf, buf.length, base, 7, 'g1');
      const byLine = new Map<number, ParseResult | 'blank'>();
      for (const e of out.events) byLine.set(e.line, { ok: true, row: e });
      for (const m of out.malformed) {
        assert.not.ok(byLine.has(m.line), `line ${m.line} reported twice`);
        byLine.set(m.line, { ok: false, reason: m.reason });
      }
      assert.is(out.line, 7 + lines.length);
      let offset = base;
      lines.forEach((raw, i) => {
        const n = 8 + i;
        const got = byLine.get(n);
        const valid = isUtf8(raw);
        const text = raw.toString('utf8');
        if (!valid) assert.equal(got, { ok: false, reason: 'invalid UTF-8' }, `line ${n}`);
        else if (text.trim() === '') assert.is(got, undefined, `blank line ${n}`);
        else {
          const want = check(text);
          if (want.ok) {
            const e = out.events.find((ev) => ev.line === n)!;
            assert.is(e.offset, offset, `offset of line ${n}`);
            const { generation, offset: _o, line: _l, stateDir: _s, ...row } = e as typeof e & { stateDir?: string };
            assert.is(generation, 'g1');
            assert.equal(row, want.row, `line ${n}`);
          } else assert.equal(got, want, `line ${n}`);
        }
        offset += raw.length + 1;
      });
    }),
    params(2000),
  );
});

test('a line over the length limit is refused as too long, and the lines around it still count', () => {
  const good = GOOD_LINE(1);
  const huge = Buffer.alloc(MAX_LINE_BYTES + 1, 0x61);
  const buf = Buffer.concat([good, Buffer.from('\n'), huge, Buffer.from('\n'), good, Buffer.from('\n')]);
  const out = parseEvalChunk(buf, buf.length, 0, 0, 'g');
  assert.equal(out.events.map((e) => e.line), [1, 3]);
  assert.equal(out.malformed, [{ line: 2, offset: good.length + 1, reason: `line longer than ${MAX_LINE_BYTES} bytes` }]);
});

function splitNl(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let s = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) {
    out.push(b.subarray(s, i));
    s = i + 1;
  }
  out.push(b.subarray(s));
  return out;
}

function isJson(t: string): boolean {
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}


test.run();
