import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function timeIt(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** `snappy --version` against bare `node -e 0`, medians of `runs` each, interleaved warm-up first. */
export async function benchStartup(opts: { runs?: number } = {}): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 21;
  timeIt(['-e', '0'], 3);
  timeIt(['bin/snappy.js', '--version'], 3);
  const bare = timeIt(['-e', '0'], runs);
  const version = timeIt(['bin/snappy.js', '--version'], runs);
  const help = timeIt(['bin/snappy.js', '--help'], Math.max(5, Math.floor(runs / 3)));
  return {
    'node -e 0 (ms, median)': round(bare),
    'snappy --version (ms, median)': round(version),
    'snappy --help (ms, median)': round(help),
    'ratio --version / bare node': round(version / bare),
    goal: '--version within 1.5x of bare node',
    deadlines: [{ what: 'snappy --version / bare node (ratio of medians)', value: round(version / bare), limit: 1.5 }],
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchStartup());
}
