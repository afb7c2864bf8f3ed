import { roundCents } from './cents.ts';
import { parseSkillRef } from './names.ts';

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
  let v: unknown;
  try {
    v = JSON.parse(line);
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
  for (const [name, val] of [['cost_usd_cents', cents], ['cost_usd', usd]] as const) {
    if (val === undefined || val === null) continue;
    if (typeof val !== 'number' || !Number.isFinite(val) || val < 0) return bad(`"${name}" must be a finite number >= 0`);
  }
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
