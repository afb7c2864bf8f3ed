import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../adapters/fs.ts';
import { isSkillName } from '../../domain/names.ts';
import { State } from '../../domain/state-layout.ts';
import { initialPidState, type PidParams, type PidState } from './pid.ts';

/** One recent run of a skill's current page, as far as the aggregate schema allows (no run id). */
export interface RecentRun {
  /** ISO time of the run. */
  ts: string;
  score: number;
  ok: boolean;
  costCents?: number;
}

/** Local runs of one staged revision. */
export interface RevRuns {
  runs: number;
  sum: number;
  last: string;
}

/** Everything the regen plugin keeps about one skill in `.snappy/pid/<skill>.json`. */
export interface SkillRecord {
  v: 1;
  skill: string;
  pid: PidState;
  /** The last eval row applied: rows at or before it (same generation) are replays and ignored. */
  applied: { generation: string; offset: number } | null;
  /** The last `recentRuns` runs of the current page, oldest first. */
  recent: RecentRun[];
  /** Local runs per staged rev (`<skill>:<rev>` rows). */
  revs: Record<string, RevRuns>;
}

/** The controller's state at the moment it dropped a marker. */
export interface MarkerSnapshot {
  runs: number;
  runsSinceRegen: number;
  filtered: number | null;
  error: number;
  output: number;
  p: number;
  i: number;
  d: number;
  setpoint: number;
  on: number;
  off: number;
  /** ISO event time of the run that crossed the trigger. */
  at: string;
}

/** Attempts and parking of one skill's regen, in `.snappy/regen/<skill>.json`. */
export interface AttemptRecord {
  /** Identity of the marker these attempts were for; a re-created marker starts over. */
  markerId: string | null;
  attempts: number;
  parked: boolean;
  lastError?: string;
  lastAttempt?: string;
  lastOutcome?: string;
  lastRev?: string;
}

export const recordFile = (stateDir: string, skill: string) => path.join(stateDir, State.internal(`pid/${skill}.json`));
export const attemptFile = (stateDir: string, skill: string) => path.join(stateDir, State.internal(`regen/${skill}.json`));

export function freshRecord(skill: string): SkillRecord {
  return { v: 1, skill, pid: initialPidState(), applied: null, recent: [], revs: {} };
}

export async function loadRecord(stateDir: string, skill: string): Promise<SkillRecord> {
  const rec = await readJsonFile<SkillRecord>(recordFile(stateDir, skill));
  if (!rec) return freshRecord(skill);
  return { ...freshRecord(skill), ...rec, pid: { ...initialPidState(), ...rec.pid } };
}

export function saveRecord(stateDir: string, rec: SkillRecord): Promise<void> {
  return writeJsonAtomic(recordFile(stateDir, rec.skill), rec);
}

/** A folder not made yet reads as empty; one that cannot be read is an error, not "nothing there". */
export function emptyIfMissing(err: NodeJS.ErrnoException): string[] {
  if (err?.code === 'ENOENT') return [];
  throw err;
}

/** Skills that have a controller record, sorted. */
export async function listRecordedSkills(stateDir: string): Promise<string[]> {
  const names = await fs.readdir(path.join(stateDir, State.internal('pid'))).catch(emptyIfMissing);
  return names.filter((n) => n.endsWith('.json') && isSkillName(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
}

/** Skills that have an attempts record (parked or not), sorted. */
export async function listAttemptSkills(stateDir: string): Promise<string[]> {
  const names = await fs.readdir(path.join(stateDir, State.internal('regen'))).catch(emptyIfMissing);
  return names.filter((n) => n.endsWith('.json') && isSkillName(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
}

export function snapshotOf(pid: PidState, k: PidParams, ts: number): MarkerSnapshot {
  const r = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    runs: pid.runs,
    runsSinceRegen: pid.runsSinceRegen,
    filtered: pid.filtered === null ? null : r(pid.filtered),
    error: r(pid.error),
    output: r(pid.output),
    p: r(pid.p),
    i: r(pid.integral),
    d: r(pid.d),
    setpoint: k.setpoint,
    on: k.on,
    off: k.off,
    at: isoOf(ts),
  };
}

export async function loadAttempts(stateDir: string, skill: string): Promise<AttemptRecord> {
  return (await readJsonFile<AttemptRecord>(attemptFile(stateDir, skill))) ?? { markerId: null, attempts: 0, parked: false };
}

export function saveAttempts(stateDir: string, skill: string, rec: AttemptRecord): Promise<void> {
  return writeJsonAtomic(attemptFile(stateDir, skill), rec);
}

export function isoOf(ts: number): string {
  const d = new Date(ts);
  return Number.isFinite(d.getTime()) ? d.toISOString() : new Date(0).toISOString();
}
