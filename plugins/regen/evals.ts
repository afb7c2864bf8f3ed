import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { checkAggLine } from '../../domain/agg-row.ts';
import { State } from '../../domain/state-layout.ts';
import { ScoreDigest, type ScoreSummary, type SharedSummary } from './score-digest.ts';
import { loadRecord, type RecentRun } from './store.ts';

/** One run as a brief may show it: only fields the aggregate schema carries, and no run id. */
export interface BriefRun {
  ts: string;
  score: number;
  ok: boolean;
  cost_usd_cents?: number;
}

/** What `fetchEvals(skill)` finds: exact figures for the local brief, `shared` ones for the shared brief. */
export interface SkillEvals {
  local: { summary: ScoreSummary; shared: SharedSummary; recent: BriefRun[] };
  /** Aggregate rows of every tenant for the skill's current page (`skill` exactly, no revs). */
  fleet: { summary: ScoreSummary & { tenants: number }; shared: SharedSummary & { tenants: number }; worst: BriefRun[] };
}

/**
 * The skill's recent local runs (from the ring the PID loop keeps, so the raw log is not read
 * again) and its rows in `log/evals.aggregate.ndjson` from all tenants, streamed: only the
 * summary and the `keepWorst` lowest scores are held.
 */
export async function fetchEvals(stateDir: string, skill: string, keepWorst = 10): Promise<SkillEvals> {
  const rec = await loadRecord(stateDir, skill);
  const recent = rec.recent.map(toBriefRun);
  const fleet = await scanAggregate(path.join(stateDir, State.aggregate), skill, keepWorst);
  const local = digest(recent);
  return { local: { summary: local.summary(), shared: local.shared(), recent }, fleet };
}

function toBriefRun(r: RecentRun): BriefRun {
  return { ts: r.ts, score: r.score, ok: r.ok, ...(r.costCents !== undefined ? { cost_usd_cents: r.costCents } : {}) };
}

async function scanAggregate(file: string, skill: string, keepWorst: number): Promise<SkillEvals['fleet']> {
  const acc = new ScoreDigest();
  const tenants = new Set<string>();
  const worst: BriefRun[] = [];
  const needle = `"skill":${JSON.stringify(skill)}`;
  const stream = createReadStream(file, { encoding: 'utf8' });
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve() : reject(err)));
    stream.on('close', () => resolve());
  });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line.includes(needle)) continue;
      const r = checkAggLine(line);
      if (!r.ok || r.row.skill !== skill) continue;
      acc.add(r.row.score, r.row.ok, r.row.ts);
      tenants.add(r.row.tenant);
      if (keepWorst > 0) {
        const run: BriefRun = { ts: r.row.ts, score: r.row.score, ok: r.row.ok, ...(r.row.cost_usd_cents !== undefined ? { cost_usd_cents: r.row.cost_usd_cents } : {}) };
        insertWorst(worst, run, keepWorst);
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await done;
  return { summary: { ...acc.summary(), tenants: tenants.size }, shared: { ...acc.shared(), tenants: tenants.size }, worst };
}

function insertWorst(list: BriefRun[], run: BriefRun, keep: number): void {
  if (list.length >= keep && run.score >= list[list.length - 1]!.score) return;
  let i = list.length;
  while (i > 0 && list[i - 1]!.score > run.score) i--;
  list.splice(i, 0, run);
  if (list.length > keep) list.pop();
}

/** The `n` lowest-scoring runs, lowest first (ties: most recent first). */
export function worstOf(runs: readonly BriefRun[], n: number): BriefRun[] {
  return [...runs].sort((a, b) => a.score - b.score || (a.ts < b.ts ? 1 : -1)).slice(0, n);
}

/** The digest of a set of runs. */
export function digest(runs: readonly BriefRun[]): ScoreDigest {
  const d = new ScoreDigest();
  for (const r of runs) d.add(r.score, r.ok, r.ts);
  return d;
}
