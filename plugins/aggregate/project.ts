import { createHash } from 'node:crypto';
import type { EvalEvent } from '../../core/hooks.ts';
import { RunIdHmac } from './hmac.ts';

const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00Z: from there on toISOString writes a six-digit signed year. */
const YEAR_10000 = 253_402_300_800_000;
const PAD2: string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** The tenant id of a master key: first 12 hex of its SHA-256 (SPEC §2). */
export function tenantOf(masterKey: string): string {
  return createHash('sha256').update(masterKey, 'utf8').digest('hex').slice(0, 12);
}

/**
 * Turns eval events into aggregate lines (schema v1, keys in order, nothing else). Only the
 * fields named here ever reach the output: the event carries no private field to leak.
 */
export class Projector {
  readonly tenant: string;
  private readonly hmac: RunIdHmac;
  private day = Number.NaN;
  private dayPrefix = '';

  constructor(masterKey: string) {
    this.tenant = tenantOf(masterKey);
    this.hmac = new RunIdHmac(masterKey);
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
}
