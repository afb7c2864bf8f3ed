import { z } from 'zod';
import { parseSkillRef } from './names.ts';

/** Keys of an aggregate row (locked schema v1), in the order they are written. */
export const AGG_KEYS = ['_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'cost_usd_cents', 'ok'] as const;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The locked schema v1 of an aggregate row: the only eval data that leaves a machine. */
export const aggRowSchema = z
  .object({
    _v: z.literal(1),
    ts: z.string().regex(ISO_UTC, 'expected an ISO-8601 UTC time as new Date(..).toISOString() writes it'),
    skill: z.string().refine((s) => parseSkillRef(s) !== null, 'expected a skill name or <skill>:<rev_id>'),
    score: z.number().min(0).max(1),
    run_id: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lower-case hex characters (an HMAC, never a raw run id)'),
    tenant: z.string().regex(/^[0-9a-f]{12}$/, 'expected a tenant id of 12 lower-case hex characters'),
    cost_usd_cents: z.number().int('expected whole cents').min(0).optional(),
    ok: z.boolean(),
  })
  .strict();

/** One aggregate row. */
export type AggRow = z.output<typeof aggRowSchema>;

export type AggCheck = { ok: true; row: AggRow } | { ok: false; reason: string };

/**
 * Checks one line of aggregate ndjson. The reason names the first problem: `not valid JSON`,
 * `unknown key "x"`, `missing key "x"`, or `"x": <what was expected>`.
 */
export function checkAggLine(line: string): AggCheck {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  return checkAggValue(v);
}

export function checkAggValue(v: unknown): AggCheck {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const res = aggRowSchema.safeParse(v);
  if (res.success) return { ok: true, row: res.data };
  return { ok: false, reason: aggIssues(v as Record<string, unknown>, res.error).join('; ') };
}

/** Every problem of a row, in words, unknown keys first. */
export function aggIssues(o: Record<string, unknown>, error?: z.ZodError): string[] {
  const out: string[] = [];
  for (const k of Object.keys(o)) if (!(AGG_KEYS as readonly string[]).includes(k)) out.push(`unknown key ${JSON.stringify(k)}`);
  for (const k of AGG_KEYS) if (k !== 'cost_usd_cents' && !(k in o)) out.push(`missing key "${k}"`);
  const err = error ?? (aggRowSchema.safeParse(o).error as z.ZodError | undefined);
  for (const i of err?.issues ?? []) {
    const key = String(i.path[0] ?? '');
    if (i.code === 'unrecognized_keys' || (key && !(key in o))) continue;
    out.push(`${JSON.stringify(key)}: ${i.message}`);
  }
  return out;
}

/** Writes a row with its keys in schema order (and nothing else). */
export function formatAggRow(row: AggRow): string {
  const o: Record<string, unknown> = { _v: 1, ts: row.ts, skill: row.skill, score: row.score, run_id: row.run_id, tenant: row.tenant };
  if (row.cost_usd_cents !== undefined) o.cost_usd_cents = row.cost_usd_cents;
  o.ok = row.ok;
  return JSON.stringify(o);
}
