import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isRevId, isSkillName } from '../../domain/names.ts';
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

export async function regenStatus(stateDir: string, opts: RegenOptions): Promise<{ skills: Record<string, SkillStatus>; staged: StagedWaiting[] }> {
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
  const stagingDir = path.join(stateDir, State.stagingDir);
  for (const skill of (await fs.readdir(stagingDir).catch(emptyIfMissing)).sort()) {
    if (!isSkillName(skill)) continue;
    for (const rev of (await fs.readdir(path.join(stagingDir, skill)).catch(() => [] as string[])).sort()) {
      if (!isRevId(rev)) continue;
      const page = State.stagedPage(skill, rev);
      const st = await fs.lstat(path.join(stateDir, page)).catch(() => null);
      if (!st?.isFile()) continue;
      const runs = revRuns.get(`${skill}:${rev}`) ?? 0;
      if (runs < opts.stagedEvalRuns) staged.push({ skill, rev, ref: `${skill}:${rev}`, page, runs, need: opts.stagedEvalRuns });
    }
  }
  return { skills, staged };
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
    for (const w of st.staged) lines.push(`  ${w.ref}  ${w.runs}/${w.need} runs  ${w.page}`);
  }
  return lines;
}
