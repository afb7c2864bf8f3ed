import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../../adapters/fs.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { parseRevFates, type RevFate } from '../../domain/rev-fates.ts';
import { State } from '../../domain/state-layout.ts';
import { pidParamsFor, type RegenOptions } from './options.ts';
import { listMarkers } from '../../adapters/markers.ts';
import { emptyIfMissing, listRecordedSkills, loadAttempts, loadRecord } from './store.ts';

/** One skill as `snappy status` shows it. */
export interface SkillStatus {
  runs: number;
  runsSinceRegen: number;
  filtered: number | null;
  setpoint: number;
  error: number;
  output: number;
  trigger: number;
  marker: boolean;
  lastRegen: string | null;
  parked: boolean;
  attempts: number;
  lastError: string | null;
  /** Scores of the most recent runs, oldest first. */
  recent: number[];
}

/** A staged revision this machine has not yet evaluated enough. */
export interface StagedWaiting {
  skill: string;
  rev: string;
  /** What an eval harness logs: `snappy eval --skill <ref> ...`. */
  ref: string;
  /** Page to evaluate, relative to the state dir. */
  page: string;
  runs: number;
  need: number;
}

/** A staged revision held here that is no longer waiting: promoted, quarantined, rejected or expired, as a pull learned. */
export interface StagedDecided extends RevFate {
  skill: string;
  rev: string;
  ref: string;
  /** Runs of it logged here. */
  runs: number;
}

/**
 * The controller of every skill, and the staged revs held here: those waiting for evaluation
 * (fewer than `stagedEvalRuns` runs logged here, and no known fate) and those decided. A rev's
 * fate comes from `.snappy/rev-fates.json`, which every pull brings up to date
 * (plugins/sync/fates.ts): status itself asks no remote.
 */
export async function regenStatus(stateDir: string, opts: RegenOptions): Promise<{ skills: Record<string, SkillStatus>; staged: StagedWaiting[]; decided: StagedDecided[] }> {
  const markers = new Set((await listMarkers(stateDir)).found.map((m) => m.skill));
  const names = new Set([...(await listRecordedSkills(stateDir)), ...markers]);
  const skills: Record<string, SkillStatus> = {};
  const revRuns = new Map<string, number>();
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  for (const skill of [...names].sort()) {
    const rec = await loadRecord(stateDir, skill);
    const att = await loadAttempts(stateDir, skill);
    const k = pidParamsFor(opts, skill);
    for (const [rev, rr] of Object.entries(rec.revs)) revRuns.set(`${skill}:${rev}`, rr.runs);
    skills[skill] = {
      runs: rec.pid.runs,
      runsSinceRegen: rec.pid.runsSinceRegen,
      filtered: rec.pid.filtered === null ? null : r(rec.pid.filtered),
      setpoint: k.setpoint,
      error: r(rec.pid.error),
      output: r(rec.pid.output),
      trigger: k.on,
      marker: markers.has(skill),
      lastRegen: rec.pid.lastRegenTs === null ? null : new Date(rec.pid.lastRegenTs).toISOString(),
      parked: att.parked,
      attempts: att.attempts,
      lastError: att.lastError ?? null,
      recent: rec.recent.map((x) => x.score),
    };
  }
  const staged: StagedWaiting[] = [];
  const decided: StagedDecided[] = [];
  // A torn or hand-edited fates file hides nothing: the revs just show as waiting until the next pull.
  const fates = parseRevFates(await readJsonFile(path.join(stateDir, State.revFates)).catch(() => undefined));
  const stagingDir = path.join(stateDir, State.stagingDir);
  for (const skill of (await fs.readdir(stagingDir).catch(emptyIfMissing)).sort()) {
    if (!isSkillName(skill)) continue;
    for (const rev of (await fs.readdir(path.join(stagingDir, skill)).catch(() => [] as string[])).sort()) {
      if (!isRevId(rev)) continue;
      const page = State.stagedPage(skill, rev);
      const st = await fs.lstat(path.join(stateDir, page)).catch(() => null);
      if (!st?.isFile()) continue;
      const runs = revRuns.get(`${skill}:${rev}`) ?? 0;
      const fate = fates.revs[`${skill}:${rev}`];
      if (fate) decided.push({ skill, rev, ref: `${skill}:${rev}`, runs, ...fate });
      else if (runs < opts.stagedEvalRuns) staged.push({ skill, rev, ref: `${skill}:${rev}`, page, runs, need: opts.stagedEvalRuns });
    }
  }
  // Newest first: the fates learned last are the news.
  decided.sort((a, b) => (a.learned < b.learned ? 1 : a.learned > b.learned ? -1 : a.ref < b.ref ? -1 : 1));
  return { skills, staged, decided };
}

const BARS = '▁▂▃▄▅▆▇█';

/** Scores in [0, 1] as a one-line chart (a TTY) or as numbers (anything else). */
export function sparkline(scores: readonly number[], tty: boolean): string {
  if (!tty) return scores.map((s) => s.toFixed(2)).join(' ');
  return scores.map((s) => BARS[Math.min(BARS.length - 1, Math.max(0, Math.floor(s * BARS.length)))]).join('');
}

/** Human lines for `snappy status`. */
export function statusLines(st: Awaited<ReturnType<typeof regenStatus>>, tty: boolean): string[] {
  const lines: string[] = [];
  const names = Object.keys(st.skills);
  lines.push(names.length ? 'regen: skill           runs  filtered  error   output  marker  last regen                parked  recent' : 'regen: no eval runs of any skill yet');
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  for (const name of names) {
    const s = st.skills[name]!;
    const parked = s.parked ? `yes (${s.attempts})` : 'no';
    lines.push(
      `  ${name.padEnd(20)} ${String(s.runs).padStart(5)}  ${f(s.filtered).padStart(8)}  ${f(s.error).padStart(6)}  ${f(s.output).padStart(6)}  ${(s.marker ? 'READY' : '-').padEnd(6)}  ${(s.lastRegen ?? '-').padEnd(24)}  ${parked.padEnd(6)}  ${sparkline(s.recent.slice(-20), tty)}`,
    );
    if (s.parked && s.lastError) lines.push(`    parked: ${s.lastError}`);
  }
  if (st.staged.length) {
    lines.push('regen: staged revisions waiting for evaluation here (log runs with: snappy eval --skill <skill>:<rev> ...):');
    for (const w of st.staged) lines.push(`  ${w.ref}  ${w.runs} ${w.runs === 1 ? 'run' : 'runs'} logged here, ${w.need} needed  ${w.page}`);
  }
  if (st.decided.length) {
    lines.push('regen: staged revisions no longer waiting (as learned at a pull):');
    for (const d of st.decided.slice(0, DECIDED_SHOWN)) lines.push(`  ${d.ref}  ${fateWords(d)}`);
    if (st.decided.length > DECIDED_SHOWN) lines.push(`  ... and ${st.decided.length - DECIDED_SHOWN} more (snappy status --json lists them all)`);
  }
  return lines;
}

/** Decided revs listed by name in the human status; --json has them all. */
const DECIDED_SHOWN = 10;

/** `promoted 2026-11-30T22:34:18.481Z by quorum`, `quarantined: <why>`, `rejected by robert`. */
function fateWords(d: StagedDecided): string {
  const when = d.ts ? ` ${d.ts}` : '';
  if (d.state === 'promoted') return `promoted${when}${d.by ? ` by ${d.by}` : ''}${d.source === 'canonical' ? ` (canonical/${d.skill}/ holds it)` : ''}`;
  if (d.state === 'rejected') return `rejected${when}${d.by ? ` by ${d.by}` : ''}${d.reason ? `: ${d.reason}` : ''}`;
  if (d.state === 'expired') return `expired${when}${d.reason ? ` (${d.reason})` : ''}; not evaluated here unless an operator revives it`;
  return `quarantined${when}, never to be promoted${d.reason ? `: ${d.reason}` : ''}`;
}
