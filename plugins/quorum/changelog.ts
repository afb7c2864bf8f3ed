import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { BlobStore } from '../../core/ports.ts';
import { applyEntry, isChangelogEntry, isOpenHistory, readLog, type ChangelogAction, type ChangelogEntry, type ProblemSink, type RevHistory, type SkillLog } from '../../domain/changelog.ts';
import { isMalformed, readJson, updateJson } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';

/** An entry to append: everything but its place in the sequence. */
export type EntryDraft = Omit<ChangelogEntry, 'seq'>;

/** What an append did: `appended` for the one caller whose entry took its place in the sequence. */
export interface AppendOutcome {
  appended: boolean;
  entry: ChangelogEntry | null;
  /** The log with the entry, or as it stood when `decide` declined. */
  log: SkillLog;
}

/**
 * Appends one entry to a skill's changelog, exactly once: `decide` sees the log as it stands and
 * returns the entry to add (or null: nothing to do); the entry is written create-only as the
 * next in the sequence. Of any number of concurrent callers one takes that place; every other
 * reads the log again, with the winner's entry in it, and decides again. Only then is the head
 * advanced (compare-and-swap); a caller killed in between leaves the head one behind, which
 * every reader folds in.
 */
export async function appendEntry(blobs: BlobStore, skill: string, decide: (log: SkillLog) => EntryDraft | null, problem?: ProblemSink): Promise<AppendOutcome> {
  for (let i = 0; i < 30; i++) {
    const log = await readLog(blobs, skill, problem);
    const draft = decide(log);
    if (!draft) return { appended: false, entry: null, log };
    const entry = { seq: log.seq + 1, ...draft } as ChangelogEntry;
    if (await blobs.put(Remote.changelogEntry(skill, entry.seq), `${JSON.stringify(entry)}\n`, { ifAbsent: true, contentType: 'application/json' })) {
      const next = applyEntry(log, entry);
      await syncHead(blobs, next);
      return { appended: true, entry, log: next };
    }
  }
  throw new SnappyError(`${blobs.url} ${Remote.changelogPrefix}${skill}/: kept growing under concurrent writers (30 tries)`, { code: ErrorCode.Conflict, status: 409 });
}

/**
 * Moves the head up to `log` (a fold of the entries, so any later fold is right too). Losing
 * the race to a writer whose head is newer is fine; a head that cannot be written for now only
 * costs the next reader a listing.
 */
export async function syncHead(blobs: BlobStore, log: SkillLog): Promise<void> {
  try {
    await updateJson<SkillLog>(blobs, Remote.changelogHead(log.skill), () => ({ ...log, seq: -1 }), (cur) => (cur.seq >= log.seq ? null : log), { check: (v) => !!v && typeof (v as SkillLog).seq === 'number' });
  } catch (err) {
    if (isMalformed(err)) {
      await blobs.put(Remote.changelogHead(log.skill), JSON.stringify(log), { contentType: 'application/json' });
      return;
    }
    if ((err as SnappyError).code !== ErrorCode.Conflict) throw err;
  }
}

/** One entry as the index knows it: from its done marker's name, or read because it is unfinished. */
export interface IndexedEntry {
  seq: number;
  action: ChangelogAction;
  rev: string;
  /** Its effects are done (a done marker exists). */
  done: boolean;
}

/** One skill's history as one listing of the changelog and one of the done markers tell it. */
export interface SkillIndex {
  skill: string;
  revs: Map<string, RevHistory>;
  /**
   * The promotion whose rev is canonical now, when a promotion made it so; null after a
   * rollback (a restored rev is not watched again) and for a skill with only rows of the older
   * release.
   */
  promoted: { rev: string; seq: number } | null;
  pins: Set<string>;
  /** Entries whose effects are not all done (a killed tick): read, to be finished in order. */
  unfinished: ChangelogEntry[];
  /** Revs promoted by rows of the older release whose promotion did not finish. */
  unfinishedLegacy: string[];
}

export interface ChangelogIndex {
  skills: Map<string, SkillIndex>;
  /** `skill:rev` of every rev promoted and not cleared since, or expired and not revived: the tick neither tallies nor evaluates them. */
  closed: Set<string>;
}

const ENTRY = /^([^/]+)\/(\d{8})\.json$/;
const LEGACY = /^([^/]+)\/([0-9a-f]{12})\.json$/;
const DONE = /^([^/]+)\/(\d{8})-(promote|rollback|clear|pin|unpin|expire|revive)-([0-9a-f]{12})\.json$/;

/**
 * Every skill's history from two listings (the changelog and the done markers), whatever its
 * length: a finished entry's marker names its seq, action and rev, so only unfinished entries
 * (few: a tick killed mid-way) are read. An unreadable one is reported and skipped.
 */
export async function changelogIndex(blobs: BlobStore, problem?: ProblemSink): Promise<ChangelogIndex> {
  const entries = new Map<string, Map<number, IndexedEntry | null>>();
  const legacy = new Map<string, Set<string>>();
  const legacyDone = new Set<string>();
  const of = <T,>(m: Map<string, T>, k: string, init: () => T): T => {
    let v = m.get(k);
    if (!v) m.set(k, (v = init()));
    return v;
  };
  const listChangelog = async () => {
    for await (const o of blobs.list(Remote.changelogPrefix)) {
      const rel = o.key.slice(Remote.changelogPrefix.length);
      let m = ENTRY.exec(rel);
      if (m && isSkillName(m[1])) {
        const seqs = of(entries, m[1]!, () => new Map());
        if (!seqs.has(Number(m[2]))) seqs.set(Number(m[2]), null);
        continue;
      }
      m = LEGACY.exec(rel);
      if (m && isSkillName(m[1])) of(legacy, m[1]!, () => new Set()).add(m[2]!);
    }
  };
  const done = new Map<string, Map<number, IndexedEntry>>();
  const listDone = async () => {
    for await (const o of blobs.list(Remote.promotionDonePrefix)) {
      const rel = o.key.slice(Remote.promotionDonePrefix.length);
      const m = DONE.exec(rel);
      if (m && isSkillName(m[1])) {
        of(done, m[1]!, () => new Map()).set(Number(m[2]), { seq: Number(m[2]), action: m[3] as ChangelogAction, rev: m[4]!, done: true });
        continue;
      }
      const l = LEGACY.exec(rel);
      if (l) legacyDone.add(`${l[1]}:${l[2]}`);
    }
  };
  await Promise.all([listChangelog(), listDone()]);
  const out: ChangelogIndex = { skills: new Map(), closed: new Set() };
  for (const skill of new Set([...entries.keys(), ...legacy.keys()])) {
    const s: SkillIndex = { skill, revs: new Map(), promoted: null, pins: new Set(), unfinished: [], unfinishedLegacy: [] };
    for (const rev of legacy.get(skill) ?? []) {
      s.revs.set(rev, 'promoted');
      if (!legacyDone.has(`${skill}:${rev}`)) s.unfinishedLegacy.push(rev);
    }
    const seqs = [...(entries.get(skill)?.keys() ?? [])].sort((a, b) => a - b);
    for (const seq of seqs) {
      let e: IndexedEntry | undefined = done.get(skill)?.get(seq);
      if (!e) {
        try {
          const full = await readJson<ChangelogEntry>(blobs, Remote.changelogEntry(skill, seq), isChangelogEntry);
          if (!full || !isRevId(full.rev_id)) continue;
          s.unfinished.push(full);
          e = { seq, action: full.action, rev: full.rev_id, done: false };
        } catch (err) {
          if (!isMalformed(err)) throw err;
          problem?.({ key: Remote.changelogEntry(skill, seq), reason: (err as Error).message });
          continue;
        }
      }
      fold(s, e);
    }
    out.skills.set(skill, s);
    for (const [rev, h] of s.revs) if (!isOpenHistory(h)) out.closed.add(`${skill}:${rev}`);
  }
  return out;
}

/** What an entry tells from its marker's name alone. */
function fold(s: SkillIndex, e: IndexedEntry): void {
  switch (e.action) {
    case 'promote':
      s.revs.set(e.rev, 'promoted');
      s.promoted = { rev: e.rev, seq: e.seq };
      break;
    case 'rollback':
      s.revs.set(e.rev, 'rolled-back');
      s.promoted = null;
      break;
    case 'clear':
      s.revs.set(e.rev, 'cleared');
      break;
    case 'pin':
      s.pins.add(e.rev);
      break;
    case 'unpin':
      s.pins.delete(e.rev);
      break;
    case 'expire':
      s.revs.set(e.rev, 'expired');
      break;
    case 'revive':
      s.revs.set(e.rev, 'revived');
      break;
  }
}
