import { roundCents } from './cents.ts';
import { parseSkillRef } from './names.ts';
import { CONTROL_CHAR, scanEvalFields } from './eval-scan.ts';

/** The fields of a well-formed eval row, normalised (SPEC §5). */
export interface EvalRow {
  skill: string;
  rev?: string;
  ts: number;
  score: number;
  runId: string;
  ok: boolean;
  costCents?: number;
}

export type ParseResult = { ok: true; row: EvalRow } | { ok: false; reason: string };

/** Longest line read as a row; longer lines are malformed without being parsed. */
export const MAX_LINE_BYTES = 1 << 20;

const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const MAX_TS = 8.64e15;

/** Parses one line of `log/evals.ndjson` (without its newline). Never throws. */
export function parseEvalLine(line: string): ParseResult {
  return parseEvalSpan(line, 0, line.length, !CONTROL_CHAR.test(line) && !line.includes('\n'));
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
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('not a JSON object');
  const o = v as Record<string, unknown>;

  let ts: number;
  if (typeof o.ts === 'number') {
    if (!Number.isFinite(o.ts) || Math.abs(o.ts) > MAX_TS) return bad('"ts" is not a valid epoch-milliseconds time');
    ts = o.ts;
  } else if (typeof o.ts === 'string') {
    if (!ISO_RE.test(o.ts)) return bad('"ts" is not an ISO-8601 time');
    ts = Date.parse(o.ts);
    if (!Number.isFinite(ts)) return bad('"ts" is not a valid ISO-8601 time');
  } else if (o.ts === undefined) return bad('missing "ts"');
  else return bad('"ts" must be an ISO-8601 string or epoch milliseconds');

  const rawSkill = o.skill !== undefined ? o.skill : o.verb;
  const field = o.skill !== undefined ? 'skill' : 'verb';
  if (rawSkill === undefined) return bad('missing "skill" (or legacy "verb")');
  if (typeof rawSkill !== 'string') return bad(`"${field}" must be a string`);
  const ref = parseSkillRef(rawSkill.trim());
  if (!ref) return bad(`"${field}" is not a valid skill name or <skill>:<rev_id>`);

  if (o.score === undefined) return bad('missing "score"');
  if (typeof o.score !== 'number' || !Number.isFinite(o.score)) return bad('"score" must be a finite number');
  if (o.score < 0 || o.score > 1) return bad('"score" must be within [0, 1]');

  if (o.run_id === undefined) return bad('missing "run_id"');
  if (typeof o.run_id !== 'string' || o.run_id.length === 0) return bad('"run_id" must be a non-empty string');

  if (o.ok === undefined) return bad('missing "ok"');
  if (typeof o.ok !== 'boolean') return bad('"ok" must be true or false');

  let costCents: number | undefined;
  const cents = o.cost_usd_cents;
  const usd = o.cost_usd;
  if (cents !== undefined && cents !== null && (typeof cents !== 'number' || !Number.isFinite(cents) || cents < 0)) return bad('"cost_usd_cents" must be a finite number >= 0');
  if (usd !== undefined && usd !== null && (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0)) return bad('"cost_usd" must be a finite number >= 0');
  try {
    if (typeof cents === 'number') costCents = roundCents(cents, 0);
    else if (typeof usd === 'number') costCents = roundCents(usd, 2);
  } catch (err) {
    return bad(`cost: ${(err as Error).message}`);
  }

  const row: EvalRow = { skill: ref.skill, ts, score: o.score, runId: o.run_id, ok: o.ok };
  if (ref.rev) row.rev = ref.rev;
  if (costCents !== undefined) row.costCents = costCents;
  return { ok: true, row };
}

function bad(reason: string): ParseResult {
  return { ok: false, reason };
}
