import { createHash, createHmac } from 'node:crypto';

// A plain reference implementation of docs/contract.md §5-6, written independently of the plugin:
// JSON.parse every complete line, apply the rules, project, stringify.

const SKILL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Exact decimal cents by BigInt arithmetic: the tests' reference for the rounding rules. */
export function cents(value: number, shift: number): number {
  if (value === 0) return 0;
  const [mant, exp = '0'] = String(value).split('e');
  const [ip, fp = ''] = mant!.split('.');
  const digits = BigInt(ip! + fp);
  const scale = fp.length - Number(exp) - shift;
  if (scale <= 0) return Number(digits * 10n ** BigInt(-scale));
  const den = 10n ** BigInt(scale);
  const whole = digits / den;
  const rem = digits % den;
  if (whole === 0n && rem > 0n) return 1;
  return Number(rem * 2n >= den ? whole + 1n : whole);
}

function skillOk(s: string): boolean {
  const [name, rev, more] = s.split(':');
  if (more !== undefined) return false;
  if (!SKILL.test(name!) || name === '..' || name!.endsWith('.')) return false;
  return rev === undefined || /^[0-9a-f]{12}$/.test(rev);
}

/** The aggregate lines (with newlines) the rules give for the raw bytes of an eval log. */
export function referenceAggregate(log: Buffer, key: string): { lines: string[]; malformed: number } {
  const tenant = createHash('sha256').update(key).digest('hex').slice(0, 12);
  const lines: string[] = [];
  let malformed = 0;
  const parts = log.toString('latin1').split('\n');
  parts.pop(); // the text after the last newline is an append in progress
  let pos = 0;
  for (const part of parts) {
    const bytes = log.subarray(pos, pos + part.length);
    pos += part.length + 1;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      malformed++;
      continue;
    }
    if (text.trim() === '') continue;
    if (bytes.length > 1 << 20) {
      malformed++;
      continue;
    }
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text);
    } catch {
      malformed++;
      continue;
    }
    const row = project(o, key, tenant);
    if (row === undefined) malformed++;
    else lines.push(row + '\n');
  }
  return { lines, malformed };
}

/** A well-formed eval row's fields by docs/contract.md §5, as the reference reads them. */
export interface ReferenceEvalRow {
  skill: string;
  rev?: string;
  ts: number;
  score: number;
  runId: string;
  ok: boolean;
  costCents?: number;
}

/** docs/contract.md §5's rules on a parsed line: the row's fields, or undefined for a malformed row. */
export function referenceEvalRow(o: unknown): ReferenceEvalRow | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  let ts: number;
  if (typeof r.ts === 'number') ts = r.ts;
  else if (typeof r.ts === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(r.ts)) ts = Date.parse(r.ts);
  else return undefined;
  if (!Number.isFinite(ts) || Math.abs(ts) > 8.64e15) return undefined;
  const raw = r.skill !== undefined ? r.skill : r.verb;
  if (typeof raw !== 'string' || !skillOk(raw.trim())) return undefined;
  if (typeof r.score !== 'number' || !(r.score >= 0 && r.score <= 1)) return undefined;
  if (typeof r.run_id !== 'string' || r.run_id === '') return undefined;
  if (typeof r.ok !== 'boolean') return undefined;
  for (const c of [r.cost_usd_cents, r.cost_usd]) if (c != null && (typeof c !== 'number' || !(c >= 0) || !Number.isFinite(c))) return undefined;
  const [skill, rev] = raw.trim().split(':') as [string, string | undefined];
  const row: ReferenceEvalRow = { skill, ts, score: r.score, runId: r.run_id, ok: r.ok };
  if (rev !== undefined) row.rev = rev;
  if (typeof r.cost_usd_cents === 'number') row.costCents = cents(r.cost_usd_cents, 0);
  else if (typeof r.cost_usd === 'number') row.costCents = cents(r.cost_usd, 2);
  return row;
}

function project(o: Record<string, unknown>, key: string, tenant: string): string | undefined {
  const row = referenceEvalRow(o);
  if (!row) return undefined;
  const out: Record<string, unknown> = {
    _v: 1,
    ts: new Date(row.ts).toISOString(),
    skill: row.rev === undefined ? row.skill : `${row.skill}:${row.rev}`,
    score: row.score,
    run_id: createHmac('sha256', key).update(row.runId).digest('hex').slice(0, 16),
    tenant,
  };
  if (row.costCents !== undefined) out.cost_usd_cents = row.costCents;
  out.ok = row.ok;
  return JSON.stringify(out);
}
