import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';
import { isMalformed, nullIfMalformed, readJson } from './json-store.ts';
import { Remote } from './layout.ts';

/**
 * What a changelog entry records. `expire`: the quorum gave up on a staged rev nobody promoted in
 * time (README "Expiry and the regression gate"); `revive`: an operator reopened it.
 */
export type ChangelogAction = 'promote' | 'rollback' | 'clear' | 'pin' | 'unpin' | 'expire' | 'revive';

/** A rev that is (or was) canonical, and the promote entry that made it so. */
export interface CanonicalRef {
  rev_id: string;
  seq: number;
}

/**
 * One entry of a skill's changelog (docs/contract.md §11), stored create-only at
 * `Remote.changelogEntry(skill, seq)`. `tenants`, `runs` and `mean` are the evidence in numbers:
 * the endorsing tenants of a promotion, the objecting tenants of a rollback.
 */
export interface ChangelogEntry {
  seq: number;
  ts: string;
  skill: string;
  /** The rev the entry is about: promoted, rolled back, cleared, pinned, unpinned, expired or revived. */
  rev_id: string;
  action: ChangelogAction;
  /** `quorum`, `rollback` (the watch), or `manual:<operator>`. */
  by: string;
  tenants: number;
  runs: number;
  mean: number | null;
  /** promote: the canonical it replaced (what a rollback of it restores); null when there was none. */
  previous?: CanonicalRef | null;
  /** rollback: the seq of the promotion rolled back. */
  rolled_back?: number;
  /** rollback: the canonical restored, or null when the skill's canonical was withdrawn. */
  restored?: CanonicalRef | null;
  /** promote: pinned at once (no automatic rollback). */
  pinned?: boolean;
  reason?: string;
  /** rollback: what the watch saw (per objecting tenant), for the record. */
  evidence?: Record<string, unknown>;
}

/**
 * Where a rev stands in its skill's history. `cleared`: rolled back, then an operator lifted the
 * mark. `expired`: staged too long without a promotion; `revived`: expired, then reopened by an
 * operator (its expiry clock starts again at the revive).
 */
export type RevHistory = 'promoted' | 'rolled-back' | 'cleared' | 'expired' | 'revived';

/** Histories after which the quorum still decides the rev (never promoted, or reopened). */
export function isOpenHistory(h: RevHistory | undefined): boolean {
  return h === undefined || h === 'cleared' || h === 'revived';
}

/**
 * A skill's changelog folded up to entry `seq`: what is canonical, what each promotion replaced,
 * which revs are marked and which pinned. The head object holds exactly this.
 */
export interface SkillLog {
  v: 1;
  skill: string;
  /** Entries folded (0: none). */
  seq: number;
  /** How many of them are rows of a release before the sequence (seq 1..legacy, ordered by time). */
  legacy: number;
  canonical: CanonicalRef | null;
  /** Per promote entry (by seq): its rev and the canonical it replaced. */
  promotions: Record<string, { rev_id: string; previous: CanonicalRef | null }>;
  revs: Record<string, RevHistory>;
  /** Per promotion rolled back (by seq): the seq of its rollback entry. */
  rollbacks: Record<string, number>;
  pins: string[];
  /** Per rev: the seq of its last expire, revive or clear entry (a revive or a clear restarts its expiry clock). Absent in heads of an earlier release. */
  expiries?: Record<string, number>;
  /** The newest entry. */
  last: ChangelogEntry | null;
  /** The newest entry that changed canonical (a promote or a rollback). */
  lastChange: ChangelogEntry | null;
}

export const emptyLog = (skill: string): SkillLog => ({ v: 1, skill, seq: 0, legacy: 0, canonical: null, promotions: {}, revs: {}, rollbacks: {}, pins: [], last: null, lastChange: null });

const ACTIONS: ReadonlySet<string> = new Set(['promote', 'rollback', 'clear', 'pin', 'unpin', 'expire', 'revive']);

export function isChangelogEntry(v: unknown): boolean {
  const e = v as ChangelogEntry;
  return !!e && Number.isSafeInteger(e.seq) && e.seq > 0 && typeof e.ts === 'string' && typeof e.skill === 'string' && typeof e.rev_id === 'string' && ACTIONS.has(e.action) && typeof e.by === 'string';
}

/** A row of a release before the sequence: `{ts, skill, rev_id, by, tenants, runs, mean}`. */
function isLegacyRow(v: unknown): boolean {
  const r = v as ChangelogEntry;
  return !!r && typeof r.ts === 'string' && typeof r.skill === 'string' && typeof r.rev_id === 'string' && typeof r.by === 'string';
}

export function isSkillLog(v: unknown): boolean {
  const l = v as SkillLog;
  return !!l && l.v === 1 && Number.isSafeInteger(l.seq) && l.seq >= 0 && typeof l.promotions === 'object' && typeof l.revs === 'object' && typeof l.rollbacks === 'object' && Array.isArray(l.pins);
}

/** The log after `e`, which must be entry `log.seq + 1`. Pure: `log` is left as it was. */
export function applyEntry(log: SkillLog, e: ChangelogEntry): SkillLog {
  if (e.seq !== log.seq + 1) throw new SnappyError(`${log.skill}: changelog entry ${e.seq} does not follow ${log.seq}`, { code: ErrorCode.Malformed });
  const next: SkillLog = structuredClone(log);
  next.seq = e.seq;
  next.last = e;
  switch (e.action) {
    case 'promote':
      next.promotions[String(e.seq)] = { rev_id: e.rev_id, previous: log.canonical };
      next.canonical = { rev_id: e.rev_id, seq: e.seq };
      next.revs[e.rev_id] = 'promoted';
      if (e.pinned && !next.pins.includes(e.rev_id)) next.pins.push(e.rev_id);
      next.lastChange = e;
      break;
    case 'rollback':
      next.canonical = e.restored ?? null;
      next.revs[e.rev_id] = 'rolled-back';
      if (e.rolled_back !== undefined) next.rollbacks[String(e.rolled_back)] = e.seq;
      next.lastChange = e;
      break;
    case 'clear':
      next.revs[e.rev_id] = 'cleared';
      // A clear reopens the rev to the quorum like a revive: its expiry clock starts over.
      (next.expiries ??= {})[e.rev_id] = e.seq;
      break;
    case 'pin':
      if (!next.pins.includes(e.rev_id)) next.pins.push(e.rev_id);
      break;
    case 'unpin':
      next.pins = next.pins.filter((r) => r !== e.rev_id);
      break;
    case 'expire':
    case 'revive':
      next.revs[e.rev_id] = e.action === 'expire' ? 'expired' : 'revived';
      (next.expiries ??= {})[e.rev_id] = e.seq;
      break;
  }
  return next;
}

/** Where a problem a reader skipped is reported (the tick's problem list). */
export type ProblemSink = (p: { key: string; reason: string }) => void;

const ENTRY_NAME = /^(\d{8})\.json$/;
const LEGACY_NAME = /^([0-9a-f]{12})\.json$/;

/**
 * The skill's changelog as it stands: the head, plus any entry written after it (a writer
 * killed between its entry and the head's compare-and-swap leaves the head one behind). Without
 * a head (a skill whose history predates the sequence, or none), the folder is read whole, the
 * rows of the older release first in time order. An entry that is there but unreadable stops
 * the fold: the history cannot be told past it, so E_MALFORMED names it (the tick reports it and
 * goes on with the other skills).
 */
export async function readLog(blobs: BlobStore, skill: string, problem?: ProblemSink): Promise<SkillLog> {
  let log: SkillLog | null = null;
  try {
    log = await readJson<SkillLog>(blobs, Remote.changelogHead(skill), isSkillLog);
  } catch (err) {
    if (!isMalformed(err)) throw err;
    // The head only saves reading the entries: rebuild it from them.
    problem?.({ key: Remote.changelogHead(skill), reason: `${(err as Error).message}; read from the entries instead` });
  }
  const dir = `${Remote.changelogPrefix}${skill}/`;
  if (!log) {
    log = emptyLog(skill);
    const legacy: ChangelogEntry[] = [];
    for await (const o of blobs.list(dir)) {
      const m = LEGACY_NAME.exec(o.key.slice(dir.length));
      if (!m) continue;
      const row = await readJson<ChangelogEntry>(blobs, o.key, isLegacyRow);
      if (row) legacy.push({ ...row, seq: 0, skill, rev_id: m[1]!, action: 'promote' });
    }
    legacy.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.rev_id < b.rev_id ? -1 : 1));
    for (const row of legacy) log = applyEntry(log, { ...row, seq: log.seq + 1 });
    log.legacy = legacy.length;
  }
  const after = log.seq > log.legacy ? Remote.changelogEntry(skill, log.seq) : dir;
  for await (const o of blobs.list(dir, { startAfter: after })) {
    const m = ENTRY_NAME.exec(o.key.slice(dir.length));
    if (!m) continue;
    const seq = Number(m[1]);
    if (seq <= log.seq) continue;
    if (seq !== log.seq + 1) {
      problem?.({ key: o.key, reason: `changelog entry ${seq} follows no entry ${log.seq + 1}: ignored` });
      break;
    }
    const e = await readJson<ChangelogEntry>(blobs, o.key, isChangelogEntry);
    if (!e) break;
    if (e.seq !== seq || e.skill !== skill) throw new SnappyError(`${blobs.url} ${o.key}: an entry of another place (seq ${e.seq}, skill ${e.skill})`, { code: ErrorCode.Malformed, details: { key: o.key } });
    log = applyEntry(log, e);
  }
  return log;
}

/**
 * Each skill's changelog, read at most once by whoever holds the reader (a tick, a status
 * listing); null when malformed, which is reported to `problem` and never hides other skills.
 */
export function logReader(blobs: BlobStore, problem?: ProblemSink): (skill: string) => Promise<SkillLog | null> {
  const logs = new Map<string, Promise<SkillLog | null>>();
  return (skill) => {
    let l = logs.get(skill);
    if (!l) {
      l = readLog(blobs, skill, problem).catch((err) => {
        if (!isMalformed(err)) throw err;
        problem?.({ key: `${Remote.changelogPrefix}${skill}/`, reason: (err as Error).message });
        return null;
      });
      logs.set(skill, l);
    }
    return l;
  };
}

/** The stored entry `seq` of a skill whose log is `log` (a row of the older release normalised to an entry). */
export async function readEntry(blobs: BlobStore, log: SkillLog, seq: number): Promise<ChangelogEntry | null> {
  if (seq < 1 || seq > log.seq) return null;
  if (seq <= log.legacy) {
    const p = log.promotions[String(seq)];
    if (!p) return null;
    const row = await readJson<ChangelogEntry>(blobs, Remote.legacyChangelog(log.skill, p.rev_id), isLegacyRow);
    return row ? { ...row, seq, skill: log.skill, rev_id: p.rev_id, action: 'promote', previous: p.previous } : null;
  }
  if (log.last?.seq === seq) return log.last;
  return readJson<ChangelogEntry>(blobs, Remote.changelogEntry(log.skill, seq), isChangelogEntry);
}

/** The newest promote entry of `rev`, or null when it was never promoted. */
export async function promotionOf(blobs: BlobStore, log: SkillLog, rev: string): Promise<ChangelogEntry | null> {
  const seqs = Object.entries(log.promotions).filter(([, p]) => p.rev_id === rev).map(([s]) => Number(s));
  return seqs.length ? readEntry(blobs, log, Math.max(...seqs)) : null;
}

/** The rev's last expire, revive or clear entry (`log.expiries`), or null when there is none. */
export async function expiryEntryOf(blobs: BlobStore, log: SkillLog | null, rev: string): Promise<ChangelogEntry | null> {
  const seq = log?.expiries?.[rev];
  if (!log || !seq) return null;
  const e = await readEntry(blobs, log, seq).catch(nullIfMalformed);
  return e && (e.action === 'expire' || e.action === 'revive' || e.action === 'clear') && e.rev_id === rev ? e : null;
}

/** The marker key of an entry whose effects are done. */
export function doneKey(e: Pick<ChangelogEntry, 'skill' | 'seq' | 'rev_id' | 'action'>, log: Pick<SkillLog, 'legacy'>): string {
  return e.seq <= log.legacy ? Remote.legacyDone(e.skill, e.rev_id) : Remote.entryDone(e.skill, e.seq, e.action, e.rev_id);
}
