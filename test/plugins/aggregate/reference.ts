import { createHash, createHmac } from 'node:crypto';

// A plain reference implementation of SPEC §5-6, written independently of the plugin:
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

function project(o: Record<string, unknown>, key: string, tenant: string): string | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  let ts: number;
  if (typeof o.ts === 'number') ts = o.ts;
  else if (typeof o.ts === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(o.ts)) ts = Date.parse(o.ts);
  else return undefined;
  if (!Number.isFinite(ts) || Math.abs(ts) > 8.64e15) return undefined;
  const raw = o.skill !== undefined ? o.skill : o.verb;
  if (typeof raw !== 'string' || !skillOk(raw.trim())) return undefined;
  if (typeof o.score !== 'number' || !(o.score >= 0 && o.score <= 1)) return undefined;
  if (typeof o.run_id !== 'string' || o.run_id === '') return undefined;
  if (typeof o.ok !== 'boolean') return undefined;
  for (const c of [o.cost_usd_cents, o.cost_usd]) if (c != null && (typeof c !== 'number' || !(c >= 0) || !Number.isFinite(c))) return undefined;
  const out: Record<string, unknown> = {
    _v: 1,
    ts: new Date(ts).toISOString(),
    skill: raw.trim(),
    score: o.score,
    run_id: createHmac('sha256', key).update(o.run_id).digest('hex').slice(0, 16),
    tenant,
  };
  if (typeof o.cost_usd_cents === 'number') out.cost_usd_cents = cents(o.cost_usd_cents, 0);
  else if (typeof o.cost_usd === 'number') out.cost_usd_cents = cents(o.cost_usd, 2);
  out.ok = o.ok;
  return JSON.stringify(out);
}
