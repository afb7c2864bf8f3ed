import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { checkAggLine } from '../../domain/agg-row.ts';
import { ROOT, runCli, type CliResult } from '../helpers/cli.ts';

/** One machine of one tenant in a fleet test: its own state dir, key and machine id. */
export interface Machine {
  name: string;
  state: string;
  env: Record<string, string>;
  run(args: string[], opts?: { input?: string; expect?: number }): Promise<CliResult>;
  json(args: string[]): Promise<any>;
  /** Appends raw eval rows to this machine's log, as an external eval harness would. */
  log(rows: Record<string, unknown>[]): void;
  /** Every row appended with `log`. */
  logged: Record<string, unknown>[];
  /** The machine id: the given one, else the pseudonym the machine stored on its first run. */
  id(): string;
}

export const CANARY = 'CANARY-7f3e-private-prompt-text';

/** A config file shared by the fleet: the fixture regen agent, fast retries. */
export function writeFleetConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'snappy.config.json');
  writeFileSync(file, JSON.stringify({ regen: { agent: [process.execPath, path.join(ROOT, 'examples', 'regen-agent.mjs')] }, ...extra }, null, 2));
  return file;
}

/**
 * `machine` unset: no SNAPPY_MACHINE_ID, so the machine makes up and stores its own pseudonym.
 * `remote` unset: the machine names no remote (Worker mode, or the embedded default).
 */
export function makeMachine(opts: { root: string; name: string; key: string; machine?: string; config: string; remote?: string; env?: Record<string, string>; skills?: string[] }): Machine {
  const state = path.join(opts.root, opts.name, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  for (const s of opts.skills ?? ['summarize', 'triage']) {
    const src = path.join(ROOT, 'state', 'skills', `${s}.md`);
    try {
      copyFileSync(src, path.join(state, 'skills', `${s}.md`));
    } catch {
      writeFileSync(path.join(state, 'skills', `${s}.md`), `---\nname: ${s}\n---\n# ${s}\n\nDo the ${s} task well.\n`);
    }
  }
  const env: Record<string, string> = { SNAPPY_MASTER_KEY: opts.key, ...(opts.machine ? { SNAPPY_MACHINE_ID: opts.machine } : {}), SNAPPY_STATE: state, ...(opts.remote ? { SNAPPY_REMOTE: opts.remote } : {}), SNAPPY_CONFIG: opts.config, ...(opts.env ?? {}) };
  const m: Machine = {
    name: opts.name,
    state,
    env,
    logged: [],
    id: () => opts.machine ?? readFileSync(path.join(state, '.snappy', 'machine-id'), 'utf8').trim(),
    async run(args, o = {}) {
      const r = await runCli(args, { cwd: opts.root, env, ...(o.input !== undefined ? { input: o.input } : {}), timeoutMs: 120_000 });
      const want = o.expect ?? 0;
      if (r.code !== want) throw new Error(`${opts.name}: snappy ${args.join(' ')} exited ${r.code} (wanted ${want})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      return r;
    },
    async json(args) {
      const r = await m.run([...args, '--json']);
      try {
        return JSON.parse(r.stdout);
      } catch {
        throw new Error(`${opts.name}: snappy ${args.join(' ')} --json printed no single JSON object:\n${r.stdout}`);
      }
    },
    log(rows) {
      m.logged.push(...rows);
      mkdirSync(path.join(state, 'log'), { recursive: true });
      appendFileSync(path.join(state, 'log', 'evals.ndjson'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    },
  };
  return m;
}

/** Rows of a skill at a score, each carrying private fields that must never leave the machine. */
export function rows(skill: string, scores: number[], runPrefix: string, t0 = Date.now() - 3_600_000): Record<string, unknown>[] {
  return scores.map((score, i) => ({ ts: t0 + i * 1000, skill, score, run_id: `${runPrefix}-${i}`, ok: score >= 0.5, cost_usd: 0.0125, prompt: `${CANARY} ${runPrefix}`, user_email: 'someone@example.com' }));
}

/** The host name as a word of its own (it may be as short as two letters). */
export const HOST_WORD = new RegExp(`(?<![A-Za-z0-9])${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'i');

/** Every way the time of a run logged on these machines can be written: epoch ms and ISO. */
export function runTimes(machines: Machine[]): string[] {
  const out = new Set<string>();
  for (const m of machines) {
    for (const r of m.logged) {
      const ms = typeof r.ts === 'number' ? r.ts : Date.parse(String(r.ts));
      out.add(String(ms));
      out.add(new Date(ms).toISOString());
    }
  }
  return [...out];
}

/**
 * Fails when `text`, an object that left a machine, carries a private field, a raw run id, the
 * host name, a master key or the millisecond time of a local run. An aggregate batch may carry
 * run times only as the `ts` of rows of the locked schema: every line must be one.
 */
export function assertNothingLeaks(what: string, text: string, opts: { times: readonly string[]; keys: readonly string[]; aggregate?: boolean }): void {
  assert.not.ok(text.includes(CANARY), `${what} carries the private canary`);
  assert.not.ok(text.includes('someone@example.com'), `${what} carries a private field`);
  const id = RAW_RUN_ID.exec(text);
  assert.not.ok(id, `${what} carries a raw run id (${id?.[0]})`);
  assert.not.ok(HOST_WORD.test(text), `${what} carries the host name ${os.hostname()}`);
  for (const k of opts.keys) assert.not.ok(text.includes(k), `${what} carries a master key`);
  let rest = text;
  if (opts.aggregate) {
    const lines = text.split('\n').filter(Boolean);
    for (const l of lines) assert.ok(checkAggLine(l).ok, `${what}: a line that is not an aggregate row: ${l.slice(0, 200)}`);
    rest = lines.map((l) => l.replace(/"ts":"[^"]*",/, '')).join('\n');
  }
  for (const t of opts.times) assert.not.ok(rest.includes(t), `${what} carries the time of a local run (${t})`);
}

/** Raw run ids as `rows()` makes them (`a1-rev-0`, `A-tri-3`, ...): none may leave a machine. */
export const RAW_RUN_ID = /\b[A-Za-z0-9]+-(tri|sum|bill|rev)-\d+\b/;

/** Every file under `dir`, relative path to bytes. */
export function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const full = path.join(d, n);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else out.set(path.relative(dir, full), readFileSync(full));
    }
  };
  walk(dir);
  return out;
}

export function aggregateLines(m: Machine): string[] {
  try {
    return readFileSync(path.join(m.state, 'log', 'evals.aggregate.ndjson'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Waits until `fn` returns a truthy value, polling; throws with `what` after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 60_000, every = 250): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
