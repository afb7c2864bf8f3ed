import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';

/** A project folder whose config enables only the aggregate plugin, with an empty state dir. */
export async function project(): Promise<{ dir: string; state: string; log: string; agg: string }> {
  const dir = tmpDir('snappy-agg-');
  await fs.writeFile(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['aggregate'] }));
  const state = path.join(dir, 'state');
  await fs.mkdir(path.join(state, 'log'), { recursive: true });
  return { dir, state, log: path.join(state, 'log', 'evals.ndjson'), agg: path.join(state, 'log', 'evals.aggregate.ndjson') };
}

/** `snappy run aggregate --json` in `dir`; the parsed JSON output beside the raw result. */
export async function runAggregate(dir: string, key: string | undefined, extra: string[] = []): Promise<CliResult & { json: any }> {
  const r = await runCli(['run', 'aggregate', '--json', ...extra], { cwd: dir, env: { SNAPPY_MASTER_KEY: key, SNAPPY_MACHINE_ID: 'm1' } });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, json };
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}
