import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, ROOT, type CliResult } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';

export const AGENTS = path.join(ROOT, 'test', 'fixtures', 'agents');
export const T0 = Date.parse('2026-03-01T00:00:00Z');

/** A working folder with a state dir and, when given, a snappy.config.json or .mjs. */
export interface Sandbox {
  cwd: string;
  state: string;
  run(args: string[], env?: Record<string, string | undefined>, input?: string): Promise<CliResult>;
  append(rows: readonly object[]): void;
  status(): Promise<StatusJson>;
  read(rel: string): string;
  exists(rel: string): boolean;
}

/** The parts of `snappy status --json` the regen tests read. */
export interface StatusJson {
  skills: Record<string, { runs: number; runsSinceRegen: number; filtered: number | null; error: number; output: number; marker: boolean; lastRegen: string | null; parked: boolean; attempts: number; lastError: string | null; recent: number[] }>;
  staged: { skill: string; rev: string; ref: string; page: string; runs: number; need: number }[];
}

export function sandbox(config?: Record<string, unknown> | string, env: Record<string, string> = {}): Sandbox {
  const cwd = tmpDir('snappy-regen-');
  const state = path.join(cwd, 'state');
  mkdirSync(state, { recursive: true });
  if (typeof config === 'string') writeFileSync(path.join(cwd, 'snappy.config.mjs'), config);
  else if (config) writeFileSync(path.join(cwd, 'snappy.config.json'), JSON.stringify(config));
  const sb: Sandbox = {
    cwd,
    state,
    run: (args, extra = {}, input) => runCli([...args, '--state', state], { cwd, env: { SNAPPY_MACHINE_ID: 'm1', ...env, ...extra }, ...(input !== undefined ? { input } : {}) }),
    append: (rows) => {
      mkdirSync(path.join(state, 'log'), { recursive: true });
      appendFileSync(path.join(state, 'log', 'evals.ndjson'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    },
    status: async () => {
      const r = await sb.run(['status', '--json']);
      if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout) as StatusJson;
    },
    read: (rel) => readFileSync(path.join(state, rel), 'utf8'),
    exists: (rel) => existsSync(path.join(state, rel)),
  };
  return sb;
}

let seq = 0;
/** Eval rows of `skill`, one a minute from `from`, with fresh run ids. */
export function rows(skill: string, scores: readonly number[], from = T0): object[] {
  return scores.map((score, i) => ({ ts: new Date(from + i * 60_000).toISOString(), skill, score, run_id: `run-${++seq}`, ok: score >= 0.5, cost_usd: 0.012 }));
}

export const fill = (n: number, x: number) => Array<number>(n).fill(x);

/** Fails with the CLI's output when it did not exit with `code`. */
export function expectExit(r: CliResult, code: number, what: string): void {
  if (r.code !== code) throw new Error(`${what}: exit ${r.code} (expected ${code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}
