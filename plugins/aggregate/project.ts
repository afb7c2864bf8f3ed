import type { EvalEvent } from '../../core/hooks.ts';
import { RunIdHmac } from './run-id-hmac.js';

const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00Z: from there on toISOString writes a six-digit signed year. */
const YEAR_10000 = 253_402_300_800_000;
const PAD2: string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * Turns eval events into aggregate lines (schema v1, keys in order, nothing else). Only the
 * fields named here ever reach the output: the event carries no private field to leak.
 */
export class Projector {
  readonly tenant: string;
  private readonly hmac: RunIdHmac;
  private day = Number.NaN;
  private dayPrefix = '';
  private wday = Number.NaN;
  private dayBytes: Uint8Array = new Uint8Array(0);

  private readonly tenantBytes: Uint8Array;
  private readonly skillBytes = new Map<string, Uint8Array>();
  private lastSkill = '';
  private lastSkillBytes: Uint8Array = new Uint8Array(0);

  /** `tenant` is the master key's tenant id (domain/hash.ts tenantIdOf). */
  constructor(masterKey: string, tenant: string) {
    this.tenant = tenant;
    this.hmac = new RunIdHmac(masterKey);
    this.tenantBytes = bytesOf(`","tenant":"${this.tenant}"`);
  }

  /** The opaque run id of the aggregate: first 16 hex of HMAC-SHA256(master key, run_id). */
  runId(raw: string): string {
    return this.hmac.hex16(raw);
  }

  /** One aggregate line, without its newline. */
  line(ev: EvalEvent, runId = this.hmac.hex16(ev.runId)): string {
    const skill = ev.rev === undefined ? ev.skill : `${ev.skill}:${ev.rev}`;
    const cost = ev.costCents === undefined ? '' : `,"cost_usd_cents":${ev.costCents}`;
    return `{"_v":1,"ts":"${this.iso(ev.ts)}","skill":"${skill}","score":${JSON.stringify(ev.score)},"run_id":"${runId}","tenant":"${this.tenant}"${cost},"ok":${ev.ok ? 'true' : 'false'}}`;
  }

  /**
   * Writes `line(ev)` and a newline as bytes at `out[pos]`; returns the position after it.
   * `out` must have room for `maxLineBytes(ev)` bytes. `hex[hexAt, hexAt + 16)`, when given,
   * is the run_id's HMAC already computed (by the HmacPool). Every part is ASCII (skill names
   * and rev ids are, by their rules) and copied from byte arrays kept per skill and score:
   * building bytes straight away spares a full build the string of every line and the
   * UTF-8 encoding of all of them.
   */
  write(ev: EvalEvent, out: Uint8Array, pos: number, hex?: Uint8Array, hexAt = 0): number {
    pos = copy(out, pos, HEAD);
    pos = this.writeIso(ev.ts, out, pos);
    pos = copy(out, pos, this.skillPart(ev.skill, ev.rev));
    pos = copy(out, pos, scoreBytes(ev.score));
    pos = copy(out, pos, RUN_ID);
    if (hex === undefined) pos = this.hmac.writeHex16(ev.runId, out, pos);
    else for (let i = 0; i < 16; i++) out[pos++] = hex[hexAt + i]!;
    pos = copy(out, pos, this.tenantBytes);
    if (ev.costCents !== undefined) {
      pos = copy(out, pos, COST);
      pos = ascii(out, pos, String(ev.costCents));
    }
    return copy(out, pos, ev.ok ? OK_TRUE : OK_FALSE);
  }

  /** `","skill":"<skill>[:<rev>]","score":` as bytes, kept per skill. */
  private skillPart(skill: string, rev: string | undefined): Uint8Array {
    const name = rev === undefined ? skill : `${skill}:${rev}`;
    if (name === this.lastSkill) return this.lastSkillBytes;
    let b = this.skillBytes.get(name);
    if (!b) {
      if (this.skillBytes.size >= 1024) this.skillBytes.clear();
      this.skillBytes.set(name, (b = bytesOf(`","skill":"${name}","score":`)));
    }
    this.lastSkill = name;
    this.lastSkillBytes = b;
    return b;
  }

  /** `new Date(ts).toISOString()`, with the date part cached: rows of a log share few days. */
  iso(ts: number): string {
    const t = Math.trunc(ts);
    if (!(t >= 0 && t < YEAR_10000)) return new Date(ts).toISOString();
    const day = Math.floor(t / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.dayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    }
    let ms = t - day * DAY_MS;
    const h = Math.floor(ms / 3_600_000);
    ms -= h * 3_600_000;
    const m = Math.floor(ms / 60_000);
    ms -= m * 60_000;
    const s = Math.floor(ms / 1000);
    ms -= s * 1000;
    return `${this.dayPrefix}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[ms]}Z`;
  }

  /** The ISO time of `ts` as bytes at `out[pos]` (same text as `iso(ts)`). */
  private writeIso(ts: number, out: Uint8Array, pos: number): number {
    const t = Math.trunc(ts);
    if (!(t >= 0 && t < YEAR_10000)) return ascii(out, pos, new Date(ts).toISOString());
    const day = Math.floor(t / DAY_MS);
    if (day !== this.wday) {
      this.wday = day;
      this.dayBytes = bytesOf(new Date(day * DAY_MS).toISOString().slice(0, 11));
    }
    pos = copy(out, pos, this.dayBytes);
    let ms = t - day * DAY_MS;
    const h = Math.floor(ms / 3_600_000);
    ms -= h * 3_600_000;
    const m = Math.floor(ms / 60_000);
    ms -= m * 60_000;
    const s = Math.floor(ms / 1000);
    ms -= s * 1000;
    out[pos] = 48 + ((h / 10) | 0);
    out[pos + 1] = 48 + (h % 10);
    out[pos + 2] = 58;
    out[pos + 3] = 48 + ((m / 10) | 0);
    out[pos + 4] = 48 + (m % 10);
    out[pos + 5] = 58;
    out[pos + 6] = 48 + ((s / 10) | 0);
    out[pos + 7] = 48 + (s % 10);
    out[pos + 8] = 46;
    out[pos + 9] = 48 + ((ms / 100) | 0);
    out[pos + 10] = 48 + (((ms / 10) | 0) % 10);
    out[pos + 11] = 48 + (ms % 10);
    out[pos + 12] = 90;
    return pos + 13;
  }
}

/** Bytes `write` may need for one event's line: generous, so one check per row suffices. */
export function maxLineBytes(ev: EvalEvent): number {
  return 256 + ev.skill.length + (ev.rev === undefined ? 0 : ev.rev.length);
}

function ascii(out: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) out[pos + i] = s.charCodeAt(i);
  return pos + n;
}

function copy(out: Uint8Array, pos: number, b: Uint8Array): number {
  const n = b.length;
  for (let i = 0; i < n; i++) out[pos + i] = b[i]!;
  return pos + n;
}

function bytesOf(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  ascii(b, 0, s);
  return b;
}

const HEAD = bytesOf('{"_v":1,"ts":"');
const RUN_ID = bytesOf(',"run_id":"');
const COST = bytesOf(',"cost_usd_cents":');
const OK_TRUE = bytesOf(',"ok":true}\n');
const OK_FALSE = bytesOf(',"ok":false}\n');

// Scores of a log mostly have few decimals: keep the bytes of those with up to four.
const SCORE_BYTES: (Uint8Array | undefined)[] = new Array(10001);

/** `JSON.stringify(score)` for a finite number, as bytes. */
function scoreBytes(score: number): Uint8Array {
  const k = score * 10000;
  if (k >= 0 && k <= 10000 && Number.isInteger(k) && k / 10000 === score) {
    return SCORE_BYTES[k] ?? (SCORE_BYTES[k] = bytesOf(JSON.stringify(score)));
  }
  return bytesOf(JSON.stringify(score));
}
