import { z } from 'zod';
import { lazySchema } from '../core/lazy-schema.ts';
import { isSkillName, parseSkillRef } from './names.ts';

/** Keys of an aggregate row (locked schema v1), in the order they are written. */
export const AGG_KEYS = ['_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'cost_usd_cents', 'ok'] as const;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** True for a time written exactly as `new Date(..).toISOString()` writes it (and a real date). */
function isIsoUtc(s: string): boolean {
  if (!ISO_UTC.test(s)) return false;
  const t = Date.parse(s);
  return Number.isFinite(t) && new Date(t).toISOString() === s;
}

/** The locked schema v1 of an aggregate row: the only eval data that leaves a machine. */
export const aggRowSchema = lazySchema(() =>
  z
    .object({
      _v: z.literal(1),
      ts: z.string().refine(isIsoUtc, 'expected an ISO-8601 UTC time as new Date(..).toISOString() writes it'),
      skill: z.string().refine((s) => parseSkillRef(s) !== null, 'expected a skill name or <skill>:<rev_id>'),
      score: z.number().min(0).max(1),
      run_id: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lower-case hex characters (an HMAC, never a raw run id)'),
      tenant: z.string().regex(/^[0-9a-f]{12}$/, 'expected a tenant id of 12 lower-case hex characters'),
      cost_usd_cents: z.number().int('expected whole cents (fractional cents are rounded before aggregation)').min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      ok: z.boolean(),
    })
    .strict(),
);

/** One aggregate row. */
export type AggRow = z.output<typeof aggRowSchema>;

export type AggCheck = { ok: true; row: AggRow } | { ok: false; reason: string };

/**
 * A row exactly as formatAggRow writes it. Nearly every line checked (merges of pulled
 * batches, the lint) has this shape, and a regex plus a few range checks is ~20x cheaper
 * than zod; anything else goes the zod way, which also words the problems.
 */
const CANONICAL =
  /^\{"_v":1,"ts":"([^"]{24})","skill":"([A-Za-z0-9][A-Za-z0-9._-]{0,127})(?::([0-9a-f]{12}))?","score":(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?),"run_id":"([0-9a-f]{16})","tenant":"([0-9a-f]{12})"(?:,"cost_usd_cents":(0|[1-9]\d{0,15}))?,"ok":(true|false)\}$/;

function fastCheck(line: string): AggRow | undefined {
  const m = CANONICAL.exec(line);
  if (!m) return undefined;
  const [, ts, skill, rev, scoreText, runId, tenant, centsText, okText] = m;
  if (!isIsoUtc(ts!) || !isSkillName(skill)) return undefined;
  const score = Number(scoreText);
  if (!(score >= 0 && score <= 1)) return undefined;
  let cents: number | undefined;
  if (centsText !== undefined) {
    cents = Number(centsText);
    if (!Number.isSafeInteger(cents)) return undefined;
  }
  const base = { _v: 1 as const, ts: ts!, skill: rev ? `${skill}:${rev}` : skill!, score, run_id: runId!, tenant: tenant! };
  const ok = okText === 'true';
  const row: AggRow = cents === undefined ? { ...base, ok } : { ...base, cost_usd_cents: cents, ok };
  return row;
}

/**
 * Checks one line of aggregate ndjson. The reason names every problem, `; `-separated:
 * `not valid JSON`, `unknown key "x"`, `missing key "x"`, `keys out of schema order ...`
 * or `"x": <what was expected>`.
 */
/** The `tenant` of an aggregate line, read without parsing it (rows are written in one key order), or undefined. */
export function tenantOfAggLine(line: string): string | undefined {
  return /"tenant":"([0-9a-f]{12})"/.exec(line)?.[1];
}

export function checkAggLine(line: string): AggCheck {
  const fast = fastCheck(line);
  if (fast) return { ok: true, row: fast };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  return checkAggValue(v);
}

/** Checks a parsed value against the schema, key order included. */
export function checkAggValue(v: unknown): AggCheck {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const res = aggRowSchema.safeParse(v);
  const issues = aggIssues(v as Record<string, unknown>, res.success ? undefined : res.error);
  if (res.success && issues.length === 0) return { ok: true, row: res.data };
  return { ok: false, reason: issues.join('; ') };
}

/** Every problem of a row, in words: unknown keys, missing keys, values, then key order. */
export function aggIssues(o: Record<string, unknown>, error?: z.ZodError): string[] {
  const out: string[] = [];
  const known = AGG_KEYS as readonly string[];
  for (const k of Object.keys(o)) if (!known.includes(k)) out.push(`unknown key ${JSON.stringify(k)}`);
  for (const k of AGG_KEYS) if (k !== 'cost_usd_cents' && !(k in o)) out.push(`missing key "${k}"`);
  const err = error ?? (aggRowSchema.safeParse(o).error as z.ZodError | undefined);
  for (const i of err?.issues ?? []) {
    const key = String(i.path[0] ?? '');
    if (i.code === 'unrecognized_keys' || (key && !(key in o))) continue;
    out.push(`${JSON.stringify(key)}: ${i.message}${describeValue(o[key])}`);
  }
  const present = Object.keys(o).filter((k) => known.includes(k));
  const ordered = known.filter((k) => k in o);
  if (present.join() !== ordered.join()) out.push(`keys out of schema order: expected ${ordered.join(', ')}; found ${present.join(', ')}`);
  return out;
}

function describeValue(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? '' : ` (got ${text.length > 40 ? `${text.slice(0, 37)}...` : text})`;
}

/** Writes a row with its keys in schema order (and nothing else). */
export function formatAggRow(row: AggRow): string {
  const o: Record<string, unknown> = { _v: 1, ts: row.ts, skill: row.skill, score: row.score, run_id: row.run_id, tenant: row.tenant };
  if (row.cost_usd_cents !== undefined) o.cost_usd_cents = row.cost_usd_cents;
  o.ok = row.ok;
  return JSON.stringify(o);
}
