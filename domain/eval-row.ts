import { roundCents } from './cents.ts';
import { parseSkillRef } from './names.ts';
import { CONTROL_CHAR, EvalFields, scanEvalFields } from './eval-scan.ts';
import { scanEvalBytes } from './eval-scan-bytes.ts';

/** The fields of a well-formed eval row, normalised (docs/contract.md §5). */
export interface EvalRow {
  /** Skill name (the part before `:`). */
  skill: string;
  /** Set when the row evaluates a staged revision (`<skill>:<rev_id>`). */
  rev?: string;
  /** Epoch milliseconds. */
  ts: number;
  score: number;
  runId: string;
  ok: boolean;
  /** Integer cents, rounded per the aggregate schema; absent when the row had no cost. */
  costCents?: number;
}

export type ParseResult = { ok: true; row: EvalRow } | { ok: false; reason: string };

/** Longest line read as a row; longer lines are malformed without being parsed. */
export const MAX_LINE_BYTES = 1 << 20;

const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const MAX_TS = 8.64e15;

/** Parses one line of `log/evals.ndjson` (without its newline). Never throws. */
export function parseEvalLine(line: string): ParseResult {
  // An ASCII line takes the byte scanner the ingest uses (so the tests of this function cover it).
  const n = line.length;
  let b = n <= lineBytes.length ? lineBytes : undefined;
  for (let i = 0; b !== undefined && i < n; i++) {
    const c = line.charCodeAt(i);
    if (c > 0x7f) b = undefined;
    else b[i] = c;
  }
  if (b !== undefined) {
    const r = parseEvalBytes(b, 0, n, lineFields);
    if (r !== undefined && lineFields.end === n) return typeof r === 'string' ? bad(r) : { ok: true, row: r };
  }
  return parseEvalSpan(line, 0, n, !CONTROL_CHAR.test(line) && !line.includes('\n'));
}

const lineBytes = new Uint8Array(64 * 1024);
const lineFields = new EvalFields();

/**
 * Parses the ASCII row at `b[start]` up to its newline (or `limit`) with the byte scanner:
 * the row, or the reason it is malformed, with `fields.end` set to the index of that newline;
 * undefined when the scanner cannot decide (non-ASCII, escapes in a read field, anything
 * unusual): take the string path then. `fields` is scratch space, reused across calls.
 */
export function parseEvalBytes(b: Uint8Array, start: number, limit: number, fields: EvalFields): EvalRow | string | undefined {
  const end = scanEvalBytes(b, start, limit, fields);
  if (end < 0) return undefined;
  fields.end = end;
  return checkRow(fields);
}

/**
 * Parses `text.slice(start, end)` as one eval row without copying it: the field scanner
 * reads the eight fields the rules need and skips (while validating) everything else; any
 * shape it does not handle on its own (escapes in a read field, a repeated field, nested
 * values in a read field, control characters) falls back to JSON.parse. Either way the
 * result is what JSON.parse + validateEvalRow give. Never throws.
 */
export function parseEvalSpan(text: string, start: number, end: number, controlFree = false): ParseResult {
  const fields = scanEvalFields(text, start, end, controlFree);
  if (fields) return validateEvalRow(fields);
  let v: unknown;
  try {
    v = JSON.parse(start === 0 && end === text.length ? text : text.slice(start, end));
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  return validateEvalRow(v);
}

/** Checks a parsed JSON value against the eval-row rules. Never throws. */
export function validateEvalRow(v: unknown): ParseResult {
  const r = checkRow(v);
  return typeof r === 'string' ? bad(r) : { ok: true, row: r };
}

const skillRefs = new Map<string, { skill: string; rev?: string } | null>();

/** parseSkillRef of a trimmed name, remembered: a log names few skills, on every row. */
function skillRef(raw: string): { skill: string; rev?: string } | null {
  let ref = skillRefs.get(raw);
  if (ref === undefined) {
    if (skillRefs.size >= 1024) skillRefs.clear();
    ref = parseSkillRef(raw.trim());
    skillRefs.set(raw, ref);
  }
  return ref;
}

/** The rules: the row, or the reason it is malformed. */
function checkRow(v: unknown): EvalRow | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;

  let ts: number;
  const pre = v instanceof EvalFields ? v.tsMs : Number.NaN;
  if (pre === pre) ts = pre;
  else if (typeof o.ts === 'number') {
    if (!Number.isFinite(o.ts) || Math.abs(o.ts) > MAX_TS) return ('"ts" is not a valid epoch-milliseconds time');
    ts = o.ts;
  } else if (typeof o.ts === 'string') {
    if (!ISO_RE.test(o.ts)) return ('"ts" is not an ISO-8601 time');
    ts = Date.parse(o.ts);
    if (!Number.isFinite(ts)) return ('"ts" is not a valid ISO-8601 time');
  } else if (o.ts === undefined) return ('missing "ts"');
  else return ('"ts" must be an ISO-8601 string or epoch milliseconds');

  const rawSkill = o.skill !== undefined ? o.skill : o.verb;
  const field = o.skill !== undefined ? 'skill' : 'verb';
  if (rawSkill === undefined) return ('missing "skill" (or legacy "verb")');
  if (typeof rawSkill !== 'string') return (`"${field}" must be a string`);
  const ref = skillRef(rawSkill);
  if (!ref) return (`"${field}" is not a valid skill name or <skill>:<rev_id>`);

  if (o.score === undefined) return ('missing "score"');
  if (typeof o.score !== 'number' || !Number.isFinite(o.score)) return ('"score" must be a finite number');
  if (o.score < 0 || o.score > 1) return ('"score" must be within [0, 1]');

  if (o.run_id === undefined) return ('missing "run_id"');
  if (typeof o.run_id !== 'string' || o.run_id.length === 0) return ('"run_id" must be a non-empty string');

  if (o.ok === undefined) return ('missing "ok"');
  if (typeof o.ok !== 'boolean') return ('"ok" must be true or false');

  let costCents: number | undefined;
  const cents = o.cost_usd_cents;
  const usd = o.cost_usd;
  if (cents !== undefined && cents !== null && (typeof cents !== 'number' || !Number.isFinite(cents) || cents < 0)) return ('"cost_usd_cents" must be a finite number >= 0');
  if (usd !== undefined && usd !== null && (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0)) return ('"cost_usd" must be a finite number >= 0');
  try {
    if (typeof cents === 'number') costCents = quickCents(cents, 1e4) ?? roundCents(cents, 0);
    else if (typeof usd === 'number') costCents = quickCents(usd, 1e6) ?? roundCents(usd, 2);
  } catch (err) {
    return (`"${typeof cents === 'number' ? 'cost_usd_cents' : 'cost_usd'}": ${(err as Error).message}`);
  }

  const row: EvalRow = { skill: ref.skill, ts, score: o.score, runId: o.run_id, ok: o.ok };
  if (ref.rev) row.rev = ref.rev;
  if (costCents !== undefined) row.costCents = costCents;
  return row;
}

/**
 * roundCents for the common case, without strings: `value` (cents when `scale` is 1e4,
 * dollars when 1e6) is exactly the decimal k / scale with 0 < value < 1e8. Then k's digits
 * are the digits roundCents reads: any other decimal as short would differ from it by a
 * multiple of 1/scale, far more than the spacing of doubles below 1e8. Undefined otherwise.
 */
function quickCents(value: number, scale: number): number | undefined {
  if (!(value > 0 && value < 1e8)) return undefined;
  const k = Math.round(value * scale);
  if (k / scale !== value) return undefined;
  // k / 1e4 is the amount in cents, four decimals kept.
  const whole = Math.floor(k / 1e4);
  const frac = k - whole * 1e4;
  const cents = frac >= 5000 ? whole + 1 : whole;
  return cents === 0 ? 1 : cents;
}

function bad(reason: string): ParseResult {
  return { ok: false, reason };
}
