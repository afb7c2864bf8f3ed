// The aggregate benchmark: a full build of the aggregate over a generated eval log, against
// jq and a naive Node script doing the same projection in the same run, then one appended
// row. Run: `npx tsx bench/aggregate.ts [rows]` (default 1,000,000) or `npm run bench -- aggregate`.
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, promises as fs, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunner } from '../core/runner.ts';
import { ingestEvalLog } from '../lifecycle/ingest.ts';
import { localRun } from '../test/helpers/run.ts';
import aggregatePlugin from '../plugins/aggregate/index.ts';
import { prng } from '../test/helpers/prng.ts';

const KEY = 'bench-master-key';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november'];

/**
 * One eval row as a line (without newline), carrying long private fields (prompt, output,
 * user, nested meta) like a real log: ~330 bytes. `i` makes the run_id unique.
 */
export function evalLine(i: number, rnd: () => number): string {
  const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  const ts = 1_714_000_000_000 + i * 1000;
  const row: Record<string, unknown> = {
    ts: rnd() < 0.2 ? ts : new Date(ts).toISOString(),
    [rnd() < 0.05 ? 'verb' : 'skill']: rnd() < 0.1 ? 'triage:0123456789ab' : 'summarize',
    score: Math.round(rnd() * 10000) / 10000,
    run_id: `run-${i}-${Math.floor(rnd() * 1e9).toString(36)}`,
    ok: rnd() < 0.9,
    prompt: `Summarize the ticket: ${words(12)}`,
    output: `${words(10)}${rnd() < 0.02 ? ' "quoted" \\ caf\u00e9 \u2603' : ''}`,
    user: `user${Math.floor(rnd() * 1000)}@example.com`,
    meta: { model: 'm-large', tokens: Math.floor(rnd() * 5000), tags: ['a', 'b'] },
  };
  if (rnd() < 0.5) row.cost_usd = Math.round(rnd() * 100000) / 1e6;
  return JSON.stringify(row);
}

/** Writes `rows` eval rows to `file` (seeded). */
export async function writeEvalLog(file: string, rows: number, seed = 1): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const rnd = prng(seed);
  const out = createWriteStream(file);
  let buf = '';
  for (let i = 0; i < rows; i++) {
    buf += evalLine(i, rnd) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((resolve, reject) => { out.on('error', reject); out.end(() => resolve()); });
}

/** The same projection as the plugin, in jq (no HMAC: jq has none, so jq does less work). */
const JQ_PROGRAM = `select(type == "object") | {_v: 1, ts: (if (.ts|type) == "number" then (.ts/1000|todate) else .ts end), skill: ((.skill // .verb) | gsub("^\\\\s+|\\\\s+$"; "")), score, run_id, tenant: "0123456789ab"} + (if .cost_usd_cents != null then {cost_usd_cents: (.cost_usd_cents|ceil)} elif .cost_usd != null then {cost_usd_cents: (.cost_usd*100|ceil)} else {} end) + {ok}`;

/** A naive Node script: readline + JSON.parse + JSON.stringify, with node:crypto's createHmac per row. */
const NAIVE_SCRIPT = `
const fs = require('fs'), readline = require('readline'), crypto = require('crypto');
const key = process.argv[2], out = fs.createWriteStream(process.argv[4]);
const tenant = crypto.createHash('sha256').update(key).digest('hex').slice(0, 12);
(async () => {
  for await (const line of readline.createInterface({ input: fs.createReadStream(process.argv[3]), crlfDelay: Infinity })) {
    let o; try { o = JSON.parse(line); } catch { continue; }
    if (!o || typeof o !== 'object') continue;
    const skill = String(o.skill ?? o.verb).trim();
    const row = { _v: 1, ts: new Date(o.ts).toISOString(), skill, score: o.score, run_id: crypto.createHmac('sha256', key).update(String(o.run_id)).digest('hex').slice(0, 16), tenant };
    const c = o.cost_usd_cents ?? (o.cost_usd != null ? o.cost_usd * 100 : undefined);
    if (c !== undefined) row.cost_usd_cents = c > 0 && c < 1 ? 1 : Math.round(c);
    row.ok = o.ok;
    if (!out.write(JSON.stringify(row) + '\\n')) await new Promise((r) => out.once('drain', r));
  }
  out.end();
})();
`;

/** Wall and CPU (user + system) time of a shell command; CPU comes from the shell's `times`. */
function timeShell(command: string): { ms: number; cpuMs: number } {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `${command}\ntimes`], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr?.toString().slice(0, 500)}`);
  const children = r.stdout.toString().trim().split('\n').pop() ?? '';
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { ms, cpuMs: (secs[0] ?? 0) * 1000 + (secs[1] ?? 0) * 1000 };
}

async function buildOnce(stateDir: string): Promise<{ ms: number; cpuMs: number; rows: number }> {
  const runner = createRunner({ plugins: [{ plugin: aggregatePlugin }], runtime: 'node' });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await ingestEvalLog(localRun(stateDir, { machine: 'bench', masterKey: KEY, tenant: 'x' }), runner);
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, rows: res.rows };
}

/** Runs the benchmark in `dir`; returns the numbers (also printed by the standalone run). */
export async function benchAggregate(opts: { rows: number; dir: string }): Promise<Record<string, unknown>> {
  const stateDir = path.join(opts.dir, 'agg-state');
  const log = path.join(stateDir, 'log', 'evals.ndjson');
  await fs.rm(stateDir, { recursive: true, force: true });
  await writeEvalLog(log, opts.rows);
  const bytes = statSync(log).size;
  await fs.readFile(log).then(() => undefined); // warm the page cache for everyone alike

  const full = await buildOnce(stateDir);
  const aggBytes = statSync(path.join(stateDir, 'log', 'evals.aggregate.ndjson')).size;

  // One row appended to the built log, in-process (the runner is already warm).
  const runner = createRunner({ plugins: [{ plugin: aggregatePlugin }], runtime: 'node' });
  const identity = { machine: 'bench', masterKey: KEY, tenant: 'x' };
  await ingestEvalLog(localRun(stateDir, identity), runner);
  const appendMs: number[] = [];
  for (let k = 0; k < 5; k++) {
    await fs.appendFile(log, evalLine(opts.rows + k, prng(99 + k)) + '\n');
    const t0 = performance.now();
    await ingestEvalLog(localRun(stateDir, identity), runner);
    appendMs.push(performance.now() - t0);
  }
  appendMs.sort((a, b) => a - b);
  const oneRowMs = appendMs[Math.floor(appendMs.length / 2)]!;

  const naiveFile = path.join(opts.dir, 'naive.js');
  await fs.writeFile(naiveFile, NAIVE_SCRIPT);
  const naive = timeShell(`'${process.execPath}' '${naiveFile}' '${KEY}' '${log}' '${path.join(opts.dir, 'naive.out')}'`);
  let jq: { ms: number; cpuMs: number } | null = null;
  try {
    jq = timeShell(`jq -c '${JQ_PROGRAM.replace(/'/g, `'\\''`)}' < '${log}' > '${path.join(opts.dir, 'jq.out')}'`);
  } catch (err) {
    console.error(`jq baseline skipped: ${(err as Error).message}`);
  }
  const ratio = (a: number, b: number) => +(a / b).toFixed(2);
  const cpu = os.cpus();
  return {
    machine: `${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, node ${process.version}`,
    rows: opts.rows,
    logMB: +(bytes / 1e6).toFixed(1),
    aggregateMB: +(aggBytes / 1e6).toFixed(1),
    fullBuildMs: Math.round(full.ms),
    fullBuildCpuMs: Math.round(full.cpuMs),
    rowsPerSec: Math.round(full.rows / (full.ms / 1000)),
    naiveNodeMs: Math.round(naive.ms),
    naiveNodeCpuMs: Math.round(naive.cpuMs),
    jqMs: jq === null ? 'n/a' : Math.round(jq.ms),
    jqCpuMs: jq === null ? 'n/a' : Math.round(jq.cpuMs),
    speedupVsJq: jq === null ? 'n/a' : ratio(jq.ms, full.ms),
    speedupVsJqCpu: jq === null ? 'n/a' : ratio(jq.cpuMs, full.cpuMs),
    speedupVsNaive: ratio(naive.ms, full.ms),
    speedupVsNaiveCpu: ratio(naive.cpuMs, full.cpuMs),
    oneNewRowMs: +oneRowMs.toFixed(2),
    oneNewRowShareOfFullBuild: `1/${Math.round(full.ms / oneRowMs)}`,
    note: 'jq does the projection without the HMAC (jq has none); the naive Node script computes it with createHmac',
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-bench-agg-'));
  try {
    const res = await benchAggregate({ rows, dir });
    for (const [k, v] of Object.entries(res)) console.log(`${k}: ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
