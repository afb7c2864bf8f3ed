/**
 * The eval-row field scanner over raw bytes (a chunk of the log as read from disk): the same
 * walk as eval-scan.ts, without first turning the chunk into a string. Only ASCII lines are
 * handled here; it returns -1 whenever it cannot be sure to match JSON.parse exactly (a byte
 * >= 0x80, an escape inside a field it reads, a field given twice, a control character,
 * anything malformed) and the caller then takes the string path, which decides and words
 * the error. Why: the string copy of every chunk, and the strings of fields that are only
 * checked, cost a full build more time than the rest of the scan.
 */
import { EvalFields } from './eval-scan.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const NL = 10;

/**
 * Scans the row starting at `b[start]`, up to its newline (or `end`). Fills `f` (reset first)
 * and returns the index of the newline ending the line (or `end`); -1 means "use the string
 * path". A ts given as `YYYY-MM-DDTHH:MM:SS[.sss]Z` is parsed here into `f.tsMs`.
 */
export function scanEvalBytes(b: Uint8Array, start: number, end: number, f: EvalFields): number {
  f.ts = f.skill = f.verb = f.score = f.run_id = f.ok = f.cost_usd = f.cost_usd_cents = undefined;
  f.tsMs = Number.NaN;
  try {
    return scan(b, start, end, f);
  } catch {
    return -1; // deep nesting overflowing the stack, say
  }
}

function scan(b: Uint8Array, start: number, end: number, f: EvalFields): number {
  let i = ws(b, start, end);
  if (b[i] !== 123 /* { */) return -1;
  let seen = 0;
  i = ws(b, i + 1, end);
  if (b[i] === 125 /* } */) return lineEnd(b, i + 1, end);
  for (;;) {
    if (i >= end || b[i] !== QUOTE) return -1;
    const ke = plainStringEnd(b, i + 1, end);
    if (ke < 0) return -1;
    const key = keyOf(b, i + 1, ke);
    i = ws(b, ke + 1, end);
    if (b[i] !== 58 /* : */) return -1;
    i = ws(b, i + 1, end);
    if (i >= end) return -1;
    if (key === 0) {
      i = skipValue(b, i, end);
      if (i < 0) return -1;
    } else {
      if (seen & key) return -1; // JSON.parse keeps the last one: let it.
      seen |= key;
      const c = b[i];
      let v: unknown;
      if (c === QUOTE) {
        const e = plainStringEnd(b, i + 1, end);
        if (e < 0) return -1;
        if (key === 1 /* ts */) {
          const ms = isoMs(b, i + 1, e);
          if (ms === ms) f.tsMs = ms;
          else v = decode(b, i + 1, e);
        } else v = key === 2 || key === 4 ? intern(b, i + 1, e) : decode(b, i + 1, e);
        i = e + 1;
      } else if (c === 116 /* t */ && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101) {
        v = true;
        i += 4;
      } else if (c === 102 /* f */ && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101) {
        v = false;
        i += 5;
      } else if (c === 110 /* n */ && b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108) {
        v = null;
        i += 4;
      } else {
        const e = skipNumber(b, i, end);
        if (e < 0) return -1;
        v = numberOf(b, i, e);
        i = e;
      }
      if (i > end) return -1;
      switch (key) {
        case 1: f.ts = v; break;
        case 2: f.skill = v; break;
        case 4: f.verb = v; break;
        case 8: f.score = v; break;
        case 16: f.run_id = v; break;
        case 32: f.ok = v; break;
        case 64: f.cost_usd = v; break;
        case 128: f.cost_usd_cents = v; break;
      }
    }
    i = ws(b, i, end);
    const c = b[i];
    if (c === 44 /* , */) {
      i = ws(b, i + 1, end);
      continue;
    }
    if (c === 125 /* } */ && i < end) return lineEnd(b, i + 1, end);
    return -1;
  }
}

/** After the closing brace: only blanks up to the newline. */
function lineEnd(b: Uint8Array, i: number, end: number): number {
  i = ws(b, i, end);
  return i === end || b[i] === NL ? i : -1;
}

/** Which field a key names (a bit of the scan's `seen` mask), 0 for any other key. */
function keyOf(b: Uint8Array, s: number, e: number): number {
  const c = b[s];
  switch (e - s) {
    case 2:
      if (c === 116 && b[s + 1] === 115) return 1; // ts
      if (c === 111 && b[s + 1] === 107) return 32; // ok
      return 0;
    case 4:
      return same(b, s, 'verb') ? 4 : 0;
    case 5:
      if (c === 115 && same(b, s, 'skill')) return 2;
      if (c === 115 && same(b, s, 'score')) return 8;
      return 0;
    case 6:
      return same(b, s, 'run_id') ? 16 : 0;
    case 8:
      return same(b, s, 'cost_usd') ? 64 : 0;
    case 14:
      return same(b, s, 'cost_usd_cents') ? 128 : 0;
  }
  return 0;
}

function same(b: Uint8Array, s: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (b[s + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** Blanks within a line (a newline ends the line, so it is not one here). */
function ws(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i];
    if (c === 32 || c === 9 || c === 13) i++;
    else break;
  }
  return i;
}

/** Index of the closing quote of a string with no escape, control or non-ASCII byte; else -1. */
function plainStringEnd(b: Uint8Array, p: number, end: number): number {
  for (; p < end; p++) {
    const c = b[p]!;
    if (c === QUOTE) return p;
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

/** Index after the string whose opening quote is at `i`, or -1. Validates escapes. */
function skipString(b: Uint8Array, i: number, end: number): number {
  for (let p = i + 1; p < end; p++) {
    const c = b[p]!;
    if (c === QUOTE) return p + 1;
    if (c < 0x20 || c > 0x7e) return -1;
    if (c === BACKSLASH) {
      const e = b[p + 1];
      if (e === 117 /* u */) {
        for (let k = p + 2; k < p + 6; k++) {
          const h = b[k]!;
          if (!((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) return -1;
        }
        p += 5;
      } else if (e === QUOTE || e === BACKSLASH || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) p++;
      else return -1;
    }
  }
  return -1;
}

/** Index after the JSON value at `i`, or -1 when this scanner cannot vouch for it. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, end);
  if (c === 123 /* { */) {
    i = ws(b, i + 1, end);
    if (b[i] === 125) return i + 1;
    for (;;) {
      if (i >= end || b[i] !== QUOTE) return -1;
      i = skipString(b, i, end);
      if (i < 0) return -1;
      i = ws(b, i, end);
      if (b[i] !== 58) return -1;
      i = ws(b, i + 1, end);
      if (i >= end) return -1;
      i = skipValue(b, i, end);
      if (i < 0) return -1;
      i = ws(b, i, end);
      if (i >= end) return -1;
      const d = b[i];
      if (d === 125) return i + 1;
      if (d !== 44) return -1;
      i = ws(b, i + 1, end);
    }
  }
  if (c === 91 /* [ */) {
    i = ws(b, i + 1, end);
    if (b[i] === 93) return i + 1;
    for (;;) {
      if (i >= end) return -1;
      i = skipValue(b, i, end);
      if (i < 0) return -1;
      i = ws(b, i, end);
      if (i >= end) return -1;
      const d = b[i];
      if (d === 93) return i + 1;
      if (d !== 44) return -1;
      i = ws(b, i + 1, end);
    }
  }
  if (c === 116) return i + 4 <= end && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101 ? i + 4 : -1;
  if (c === 102) return i + 5 <= end && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101 ? i + 5 : -1;
  if (c === 110) return i + 4 <= end && b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 ? i + 4 : -1;
  return skipNumber(b, i, end);
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Index after the JSON number at `i`, or -1 when there is none. */
function skipNumber(b: Uint8Array, i: number, end: number): number {
  let p = i;
  if (b[p] === 45 /* - */) p++;
  const first = p < end ? b[p]! : -1;
  if (first === 48) p++;
  else if (first >= 49 && first <= 57) {
    p++;
    while (p < end && isDigit(b[p])) p++;
  } else return -1;
  if (p < end && b[p] === 46 /* . */) {
    p++;
    if (!(p < end && isDigit(b[p]))) return -1;
    while (p < end && isDigit(b[p])) p++;
  }
  if (p < end && (b[p]! | 32) === 101 /* e */) {
    p++;
    const s = b[p];
    if (s === 43 || s === 45) p++;
    if (!(p < end && isDigit(b[p]))) return -1;
    while (p < end && isDigit(b[p])) p++;
  }
  return p > end ? -1 : p;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The value of the JSON number `b[s, e)`; exact like eval-scan.ts's simpleNumber. */
function numberOf(b: Uint8Array, s: number, e: number): number {
  let i = s;
  const neg = b[i] === 45;
  if (neg) i++;
  let digits = 0;
  let n = 0;
  let frac = -1;
  for (; i < e; i++) {
    const c = b[i]!;
    if (c === 46) frac = 0;
    else if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else return Number(decode(b, s, e)); // an exponent
  }
  if (digits > 15) return Number(decode(b, s, e));
  const v = frac > 0 ? n / POW10[frac]! : n;
  return neg ? -v : v;
}

type Latin1 = Uint8Array & { latin1Slice?: (s: number, e: number) => string };

/** The ASCII bytes `b[s, e)` as a string (Node's Buffer has a native slice for it). */
export function decode(b: Uint8Array, s: number, e: number): string {
  const l = (b as Latin1).latin1Slice;
  if (l !== undefined) return l.call(b, s, e);
  return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
}

// Skill names repeat on nearly every row: keep their strings by content (a small hash table).
const INTERN_SLOTS = 256;
const internBytes: (Uint8Array | undefined)[] = new Array(INTERN_SLOTS);
const internStrings: string[] = new Array(INTERN_SLOTS);

function intern(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n > 64) return decode(b, s, e);
  let h = n;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  const slot = (h >>> 0) % INTERN_SLOTS;
  const kept = internBytes[slot];
  if (kept !== undefined && kept.length === n) {
    let k = 0;
    while (k < n && kept[k] === b[s + k]) k++;
    if (k === n) return internStrings[slot]!;
  }
  const str = decode(b, s, e);
  internBytes[slot] = new Uint8Array(b.subarray(s, e)); // a copy: the chunk buffer is reused
  internStrings[slot] = str;
  return str;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(b: Uint8Array, s: number, n: number): number {
  let v = 0;
  for (let k = s; k < s + n; k++) {
    const c = b[k]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Epoch ms of `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` with every part in its
 * plain range (what Date.parse gives for it); NaN for any other form, which then goes
 * through the ISO rule and Date.parse as before.
 */
function isoMs(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n !== 24 && n !== 20) return Number.NaN;
  if (b[s + 4] !== 45 || b[s + 7] !== 45 || b[s + 10] !== 84 || b[s + 13] !== 58 || b[s + 16] !== 58 || b[e - 1] !== 90) return Number.NaN;
  let ms = 0;
  if (n === 24) {
    if (b[s + 19] !== 46) return Number.NaN;
    ms = digits(b, s + 20, 3);
  }
  const y = digits(b, s, 4);
  const mo = digits(b, s + 5, 2);
  const d = digits(b, s + 8, 2);
  const h = digits(b, s + 11, 2);
  const mi = digits(b, s + 14, 2);
  const sec = digits(b, s + 17, 2);
  if (y < 0 || ms < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return Number.NaN;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo]!)) return Number.NaN;
  // Days from 1970-01-01 to the date (proleptic Gregorian; H. Hinnant's days_from_civil).
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms;
}
