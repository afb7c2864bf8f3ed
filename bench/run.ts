// `npm run bench [-- AREA...]`: every benchmark, each against baselines measured in the same
// run, printed with the machine it ran on. Areas: startup, aggregate, sync, tick, worker-mode, scale.
// Sizes: SNAPPY_BENCH_ROWS (aggregate, default 1,000,000), SNAPPY_BENCH_FILES (sync, 10,000);
// scale (workerd): SNAPPY_BENCH_INGEST_S (ingest run, default 60 s), SNAPPY_BENCH_HUGE=1 adds the
// tick over 10,000,000 rows of history (tens of minutes and ~2 GB of disk: outside CI).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-bench-'));

const areas: { name: string; file: string; fn: string; opts: Record<string, unknown> }[] = [
  { name: 'startup', file: 'startup.ts', fn: 'benchStartup', opts: {} },
  { name: 'aggregate', file: 'aggregate.ts', fn: 'benchAggregate', opts: { rows: Number(process.env.SNAPPY_BENCH_ROWS ?? 1_000_000), dir } },
  { name: 'sync', file: 'sync.ts', fn: 'benchSync', opts: { files: Number(process.env.SNAPPY_BENCH_FILES ?? 10_000), dir } },
  { name: 'tick', file: 'tick.ts', fn: 'benchTick', opts: { dir } },
  { name: 'worker-mode', file: 'worker-mode.ts', fn: 'benchWorkerMode', opts: { dir } },
  { name: 'scale', file: 'scale.ts', fn: 'benchScale', opts: { dir, ingestSeconds: Number(process.env.SNAPPY_BENCH_INGEST_S ?? 60) } },
];

/** A limit a benchmark's measured value must stay within (`value <= limit`). */
interface Deadline {
  what: string;
  value: number;
  limit: number;
}
const missed: string[] = [];

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`date: ${new Date().toISOString()}\n`);
try {
  for (const a of areas) {
    if (wanted.length && !wanted.includes(a.name)) continue;
    const file = path.join(here, a.file);
    if (!existsSync(file)) {
      console.log(`## ${a.name}: no benchmark in this build (${a.file} missing)\n`);
      continue;
    }
    console.log(`## ${a.name}`);
    const mod = await import(file);
    const res = await mod[a.fn](a.opts);
    const { deadlines, ...rest } = res as { deadlines?: Deadline[] };
    for (const [k, v] of Object.entries(rest)) console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
    for (const d of deadlines ?? []) {
      const met = d.value <= d.limit;
      if (!met) missed.push(`${a.name}: ${d.what}`);
      console.log(`  deadline ${met ? 'met' : 'MISSED'}: ${d.what}: ${d.value} (limit ${d.limit})`);
    }
    console.log('');
  }
  // Durations are checked here, never in `npm test`: a loaded machine slows a test, it does not break the code.
  console.log(missed.length ? `deadlines missed: ${missed.join('; ')}` : 'every deadline met');
  process.exitCode = missed.length ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
