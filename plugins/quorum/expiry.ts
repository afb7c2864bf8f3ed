import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore, KV } from '../../core/ports.ts';
import type { ChangelogEntry, RevHistory } from '../../domain/changelog.ts';
export { expiryEntryOf } from '../../domain/changelog.ts';
import { isMalformed, readJson } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { appendEntry } from './changelog.ts';
import { finishEntry } from './finish.ts';
import { leftWords } from './words.ts';

/**
 * Expiry (README "Expiry and the regression gate"). A staged rev the quorum has not promoted
 * within `expiryDays` of first seeing it expires: one `expire` entry in its skill's changelog,
 * appended exactly once like a promotion (the create-only entry is the decision; concurrent
 * ticks decide again on the log with the winner's entry in it and find nothing to do). The
 * changelog, not a marker of its own, because an expiry is a turn in the rev's history that a
 * revive undoes and a later expiry may repeat: the sequence orders them, the head folds them,
 * and the done markers let the tick's listing tell which revs are closed without a read.
 */

/** Where a rev stands against its expiry, for status, `ops revs` and the ops page. */
export interface RevExpiry {
  /** The configured expiry in days (null: the skill's revs never expire). */
  days: number | null;
  /** When the quorum first saw the rev staged (null before the first tick that listed it). */
  since: string | null;
  /** Where the clock runs from: `since`, or the revive that reopened the rev. */
  from: string | null;
  /** When it expires (null: never, or the clock has not started). */
  expiresAt: string | null;
  /** Time left in ms at the moment of asking (0 once due: the next tick expires it). */
  leftMs: number | null;
  /** Its expire entry, while it is expired. */
  expired: { seq: number; ts: string; by: string; reason: string } | null;
  /** The revive (or, after a rollback, the clear) that reopened it and restarted its clock. */
  reopened: { seq: number; action: 'revive' | 'clear'; ts: string; by: string; reason: string } | null;
  /** `expires in 3 days`, `expired 2026-12-01 after 14 days: 2 of 3 tenants endorse; 6 runs, 5 needed`. */
  words: string;
}

/** `{ts}` of `Remote.since`. */
interface SinceRecord {
  ts: string;
}

const isSince = (v: unknown): boolean => !!v && typeof (v as SinceRecord).ts === 'string' && Number.isFinite(Date.parse((v as SinceRecord).ts));

/**
 * When the quorum first saw the rev (epoch ms). With `record`, a rev never seen before is
 * recorded as seen `now` (create-only: of racing ticks the first write stands, and every one
 * reads it back). Null when unrecorded and not to be recorded, or unreadable.
 */
export async function sinceOf(blobs: BlobStore, skill: string, rev: string, opts: { record?: number } = {}): Promise<number | null> {
  const key = Remote.since(skill, rev);
  const read = async () => {
    try {
      const r = await readJson<SinceRecord>(blobs, key, isSince);
      return r ? Date.parse(r.ts) : null;
    } catch (err) {
      if (isMalformed(err)) return null;
      throw err;
    }
  };
  const have = await read();
  if (have !== null || opts.record === undefined) return have;
  await blobs.put(key, JSON.stringify({ ts: new Date(opts.record).toISOString() }), { ifAbsent: true, contentType: 'application/json' });
  return (await read()) ?? opts.record;
}

/** When the clock of a rev runs from: its first sighting, or the revive or clear that reopened it, if later. */
export function clockFrom(since: number | null, reopen: ChangelogEntry | null): number | null {
  const r = reopen?.action === 'revive' || reopen?.action === 'clear' ? Date.parse(reopen.ts) : NaN;
  if (since === null) return Number.isFinite(r) ? r : null;
  return Number.isFinite(r) ? Math.max(since, r) : since;
}

/** The expiry view of one rev. `entry`: its last expire or revive entry (`expiryEntryOf`). */
export function revExpiry(expiryMs: number | null, since: number | null, history: RevHistory | null, entry: ChangelogEntry | null, now: number): RevExpiry {
  const expired = history === 'expired' && entry?.action === 'expire' ? { seq: entry.seq, ts: entry.ts, by: entry.by, reason: entry.reason ?? '' } : null;
  const reopened = (history === 'revived' || history === 'cleared') && (entry?.action === 'revive' || entry?.action === 'clear') ? { seq: entry.seq, action: entry.action, ts: entry.ts, by: entry.by, reason: entry.reason ?? '' } : null;
  const from = clockFrom(since, reopened ? entry : null);
  const at = expiryMs !== null && from !== null ? from + expiryMs : null;
  const base = { days: expiryMs === null ? null : Math.round((expiryMs / 86_400_000) * 100) / 100, since: since === null ? null : new Date(since).toISOString(), from: from === null ? null : new Date(from).toISOString(), expiresAt: at === null ? null : new Date(at).toISOString(), expired, reopened };
  if (expired) return { ...base, leftMs: 0, words: `expired ${expired.ts}${expired.reason ? ` (${expired.reason})` : ''}; revive it with snappy ops revive` };
  if (history !== null && history !== 'cleared' && history !== 'revived') return { ...base, leftMs: null, words: '' };
  if (at === null) return { ...base, leftMs: null, words: expiryMs === null ? 'never expires' : 'expiry clock starts at the next tick' };
  const left = Math.max(0, at - now);
  const why = reopened ? ` (${reopened.action === 'revive' ? 'revived' : 'cleared'} ${reopened.ts} by ${reopened.by})` : '';
  return { ...base, leftMs: left, words: left > 0 ? `expires in ${leftWords(left)}${why}` : 'due to expire at the next tick' };
}

/** What an expiry does to the changelog: the entry's numbers are the rev's last progress. */
export interface ExpiryDraft {
  ts: string;
  tenants: number;
  runs: number;
  mean: number | null;
  /** `expired after 14 days: 2 of 3 tenants endorse; 6 runs, 5 needed`. */
  reason: string;
}

/**
 * Expires a rev, exactly once: appends its `expire` entry only while the log still shows the
 * rev as the caller judged it (`seen`: its history, and the seq of its last revive), so a revive
 * or a promotion that got in first wins, and a second tick finds the entry and adds nothing.
 * The done marker follows (finishEntry); a tick killed in between leaves the entry unfinished,
 * and the next tick finishes it without a second entry.
 */
export async function expireRev(blobs: BlobStore, kv: KV, skill: string, rev: string, seen: { history: RevHistory | undefined; expirySeq: number | undefined }, draft: ExpiryDraft, now: number): Promise<ChangelogEntry | null> {
  const out = await appendEntry(blobs, skill, (log) => {
    if (log.revs[rev] !== seen.history || log.expiries?.[rev] !== seen.expirySeq) return null;
    return { ts: draft.ts, skill, rev_id: rev, action: 'expire', by: 'quorum', tenants: draft.tenants, runs: draft.runs, mean: draft.mean, reason: draft.reason };
  });
  if (!out.entry) return null;
  checkpoint('expire:recorded');
  await finishEntry(blobs, kv, out.entry, { log: out.log, now });
  return out.entry;
}
