/**
 * A field scanner for eval rows: walks one JSON object in a string without building it,
 * reads the fields the eval-row rules look at and validates everything it skips. It returns
 * null whenever it cannot be sure to match JSON.parse exactly (an escape inside a field it
 * reads, a field given twice, an object or array where a read field should be, a control
 * character, anything malformed); callers then fall back to JSON.parse, which also words the
 * error. Why: JSON.parse allocates every private string a row carries, and a full aggregate
 * build spends most of its time there.
 */

/** The fields `validateEvalRow` reads; absent ones stay undefined. */
export class EvalFields {
  ts: unknown = undefined;
  skill: unknown = undefined;
  verb: unknown = undefined;
  score: unknown = undefined;
  run_id: unknown = undefined;
  ok: unknown = undefined;
  cost_usd: unknown = undefined;
  cost_usd_cents: unknown = undefined;
  /** Set (not NaN) by the byte scanner when `ts` was a plain `...T..Z` string: its epoch ms. */
  tsMs = Number.NaN;
  /** Set by the byte scanner: index of the newline (or limit) ending the row it read. */
  end = -1;
}

const enum Key {
  Other = 0,
  Ts = 1,
  Skill = 2,
  Verb = 4,
  Score = 8,
  RunId = 16,
  Ok = 32,
  CostUsd = 64,
  CostCents = 128,
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Matches a control character other than a newline (none may appear inside a JSON string). */
export const CONTROL_CHAR = /[\x00-\x09\x0b-\x1f]/;

// Set per call: true when the caller found no control character in the span, so strings
// need no character-by-character check (a regex over a whole chunk is far cheaper).
let noControl = false;

// String.indexOf has no end bound: searching for a backslash that is not there would scan
// the rest of a whole chunk on every string. Keep the next backslash of the current text.
let bsText = '';
let bsFrom = 0;
let bsAt = -1;

/** Index of the first backslash at or after `from` in `t` (Infinity when none). */
function nextBackslash(t: string, from: number): number {
  if (t !== bsText || from < bsFrom || (bsAt >= 0 && from > bsAt)) {
    bsText = t;
    bsFrom = from;
    bsAt = t.indexOf('\\', from);
  }
  return bsAt < 0 ? Infinity : bsAt;
}

/**
 * Scans `text[start, end)`; null means "use JSON.parse". `controlFree` is the caller's
 * promise that the span holds no character matched by CONTROL_CHAR (nor a newline).
 */
export function scanEvalFields(text: string, start: number, end: number, controlFree = false): EvalFields | null {
  noControl = controlFree;
  try {
    return scan(text, start, end);
  } catch {
    // Deep nesting overflowing the stack, say: JSON.parse decides.
    return null;
  }
}

function scan(t: string, start: number, end: number): EvalFields | null {
  let i = ws(t, start, end);
  if (t.charCodeAt(i) !== 123 /* { */) return null;
  const f = new EvalFields();
  let seen = 0;
  i = ws(t, i + 1, end);
  if (t.charCodeAt(i) === 125 /* } */) return ws(t, i + 1, end) === end ? f : null;
  for (;;) {
    if (i >= end || t.charCodeAt(i) !== QUOTE) return null;
    const ke = t.indexOf('"', i + 1);
    if (ke < 0 || ke >= end) return null;
    const key = keyOf(t, i + 1, ke);
    if (key < 0) return null;
    i = ws(t, ke + 1, end);
    if (t.charCodeAt(i) !== 58 /* : */) return null;
    i = ws(t, i + 1, end);
    if (i >= end) return null;
    if (key === Key.Other) {
      i = skipValue(t, i, end);
      if (i < 0) return null;
    } else {
      if (seen & key) return null; // JSON.parse keeps the last one: let it.
      seen |= key;
      const c = t.charCodeAt(i);
      let v: unknown;
      if (c === QUOTE) {
        const e = t.indexOf('"', i + 1);
        if (e < 0 || e >= end) return null;
        v = t.slice(i + 1, e);
        if (!plainString(t, i + 1, e)) return null;
        i = e + 1;
      } else if (c === 116 /* t */ && t.startsWith('true', i)) {
        v = true;
        i += 4;
      } else if (c === 102 /* f */ && t.startsWith('false', i)) {
        v = false;
        i += 5;
      } else if (c === 110 /* n */ && t.startsWith('null', i)) {
        v = null;
        i += 4;
      } else {
        const e = skipNumber(t, i, end);
        if (e < 0) return null;
        v = simpleNumber(t, i, e);
        i = e;
      }
      if (i > end) return null;
      switch (key) {
        case Key.Ts: f.ts = v; break;
        case Key.Skill: f.skill = v; break;
        case Key.Verb: f.verb = v; break;
        case Key.Score: f.score = v; break;
        case Key.RunId: f.run_id = v; break;
        case Key.Ok: f.ok = v; break;
        case Key.CostUsd: f.cost_usd = v; break;
        case Key.CostCents: f.cost_usd_cents = v; break;
      }
    }
    i = ws(t, i, end);
    const c = t.charCodeAt(i);
    if (c === 44 /* , */) {
      i = ws(t, i + 1, end);
      continue;
    }
    if (c === 125 /* } */ && i < end) return ws(t, i + 1, end) === end ? f : null;
    return null;
  }
}

/** Which field a key names; -1 when the key holds a backslash (escaped keys go to JSON.parse). */
function keyOf(t: string, s: number, e: number): number {
  const n = e - s;
  switch (n) {
    case 2:
      if (t.startsWith('ts', s)) return Key.Ts;
      if (t.startsWith('ok', s)) return Key.Ok;
      break;
    case 4:
      if (t.startsWith('verb', s)) return Key.Verb;
      break;
    case 5:
      if (t.startsWith('skill', s)) return Key.Skill;
      if (t.startsWith('score', s)) return Key.Score;
      break;
    case 6:
      if (t.startsWith('run_id', s)) return Key.RunId;
      break;
    case 8:
      if (t.startsWith('cost_usd', s)) return Key.CostUsd;
      break;
    case 14:
      if (t.startsWith('cost_usd_cents', s)) return Key.CostCents;
      break;
  }
  return plainString(t, s, e) ? Key.Other : -1;
}

/** True when `t[s, e)` has no backslash and no control character: its JSON value is itself. */
function plainString(t: string, s: number, e: number): boolean {
  if (nextBackslash(t, s) < e) return false;
  if (noControl) return true;
  for (let i = s; i < e; i++) if (t.charCodeAt(i) < 0x20) return false;
  return true;
}

function ws(t: string, i: number, end: number): number {
  while (i < end) {
    const c = t.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13 || c === 10) i++;
    else break;
  }
  return i;
}

/** Index after the JSON value at `i`, or -1 when it is not valid JSON. */
function skipValue(t: string, i: number, end: number): number {
  const c = t.charCodeAt(i);
  if (c === QUOTE) return skipString(t, i, end);
  if (c === 123 /* { */) {
    i = ws(t, i + 1, end);
    if (t.charCodeAt(i) === 125) return i + 1;
    for (;;) {
      if (i >= end || t.charCodeAt(i) !== QUOTE) return -1;
      i = skipString(t, i, end);
      if (i < 0) return -1;
      i = ws(t, i, end);
      if (t.charCodeAt(i) !== 58) return -1;
      i = ws(t, i + 1, end);
      if (i >= end) return -1;
      i = skipValue(t, i, end);
      if (i < 0) return -1;
      i = ws(t, i, end);
      const d = t.charCodeAt(i);
      if (i >= end) return -1;
      if (d === 125) return i + 1;
      if (d !== 44) return -1;
      i = ws(t, i + 1, end);
    }
  }
  if (c === 91 /* [ */) {
    i = ws(t, i + 1, end);
    if (t.charCodeAt(i) === 93) return i + 1;
    for (;;) {
      if (i >= end) return -1;
      i = skipValue(t, i, end);
      if (i < 0) return -1;
      i = ws(t, i, end);
      const d = t.charCodeAt(i);
      if (i >= end) return -1;
      if (d === 93) return i + 1;
      if (d !== 44) return -1;
      i = ws(t, i + 1, end);
    }
  }
  if (c === 116) return t.startsWith('true', i) && i + 4 <= end ? i + 4 : -1;
  if (c === 102) return t.startsWith('false', i) && i + 5 <= end ? i + 5 : -1;
  if (c === 110) return t.startsWith('null', i) && i + 4 <= end ? i + 4 : -1;
  return skipNumber(t, i, end);
}

/** Index after the string starting at `i` (a quote), or -1. Validates escapes and control characters. */
function skipString(t: string, i: number, end: number): number {
  let p = i + 1;
  for (;;) {
    const q = t.indexOf('"', p);
    if (q < 0 || q >= end) return -1;
    const b = nextBackslash(t, p);
    if (b > q) {
      if (!noControl) for (let k = p; k < q; k++) if (t.charCodeAt(k) < 0x20) return -1;
      return q + 1;
    }
    if (!noControl) for (let k = p; k < b; k++) if (t.charCodeAt(k) < 0x20) return -1;
    // An escape before the quote: check it and carry on after it.
    const e = t.charCodeAt(b + 1);
    if (e === 117 /* u */) {
      for (let k = b + 2; k < b + 6; k++) {
        const h = t.charCodeAt(k);
        if (!((h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102))) return -1;
      }
      p = b + 6;
    } else if (e === QUOTE || e === BACKSLASH || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
      p = b + 2;
    } else return -1;
    if (p > end) return -1;
  }
}

/** Index after the JSON number at `i`, or -1 when there is none. */
function skipNumber(t: string, i: number, end: number): number {
  let p = i;
  if (t.charCodeAt(p) === 45 /* - */) p++;
  const first = p < end ? t.charCodeAt(p) : -1;
  if (first === 48) p++;
  else if (first >= 49 && first <= 57) {
    p++;
    while (p < end && isDigit(t.charCodeAt(p))) p++;
  } else return -1;
  if (p < end && t.charCodeAt(p) === 46 /* . */) {
    p++;
    if (!(p < end && isDigit(t.charCodeAt(p)))) return -1;
    while (p < end && isDigit(t.charCodeAt(p))) p++;
  }
  if (p < end && (t.charCodeAt(p) | 32) === 101 /* e */) {
    p++;
    const s = t.charCodeAt(p);
    if (s === 43 || s === 45) p++;
    if (!(p < end && isDigit(t.charCodeAt(p)))) return -1;
    while (p < end && isDigit(t.charCodeAt(p))) p++;
  }
  return p > end ? -1 : p;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The value of the JSON number `t[s, e)`. Plain decimals of at most 15 digits are computed as
 * integer / 10^k, which IEEE division rounds exactly as Number() would (both operands are
 * exact doubles); anything else goes through Number(). Saves a string per number.
 */
function simpleNumber(t: string, s: number, e: number): number {
  let i = s;
  const neg = t.charCodeAt(i) === 45;
  if (neg) i++;
  let digits = 0;
  let n = 0;
  let frac = -1;
  for (; i < e; i++) {
    const c = t.charCodeAt(i);
    if (c === 46) frac = 0;
    else if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else return Number(t.slice(s, e)); // an exponent
  }
  if (digits > 15) return Number(t.slice(s, e));
  const v = frac > 0 ? n / POW10[frac]! : n;
  return neg ? -v : v;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
