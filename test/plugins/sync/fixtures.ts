import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { runCli, spawnCli, type CliResult } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';

/** Writes files (relative path → content) under `root`. */
export function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/** Every file under `root` as relative path → content (a file remote's objects). */
export function readTree(root: string, skipTop: string[] = ['.tmp', '.locks']): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      if (!prefix && skipTop.includes(n)) continue;
      const full = path.join(dir, n);
      if (statSync(full).isDirectory()) walk(full, `${prefix}${n}/`);
      else out[`${prefix}${n}`] = readFileSync(full, 'utf8');
    }
  };
  walk(root, '');
  return out;
}

/** A machine: its state dir, its identity, and a way to run the CLI as it. */
export interface Machine {
  state: string;
  env: Record<string, string | undefined>;
  run(args: string[], extraEnv?: Record<string, string | undefined>): Promise<CliResult>;
  /** The same process as `run`, started and handed over (to kill it, say). */
  spawn(args: string[], extraEnv?: Record<string, string | undefined>): ChildProcess;
  json(args: string[], extraEnv?: Record<string, string | undefined>): Promise<{ res: CliResult; out: any }>;
}

/** A machine whose state dir lives in a fresh temp folder; `remote` is its --remote (none in Worker mode). */
export function machine(opts: { id: string; key?: string; remote?: string; config?: string; env?: Record<string, string | undefined>; dir?: string }): Machine {
  const dir = opts.dir ?? tmpDir('snappy-sync-');
  const state = path.join(dir, 'state');
  mkdirSync(state, { recursive: true });
  // Only sync runs here: the tests do not depend on the other built-ins' behaviour.
  const config = opts.config ?? path.join(dir, 'snappy.config.json');
  if (!opts.config) writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));
  const env = { SNAPPY_MACHINE_ID: opts.id, SNAPPY_MASTER_KEY: opts.key, ...(opts.env ?? {}) };
  const base = ['--state', state, ...(opts.remote ? ['--remote', opts.remote] : []), '--config', config];
  const run = (args: string[], extraEnv: Record<string, string | undefined> = {}) => runCli([...args, ...base], { cwd: dir, env: { ...env, ...extraEnv } });
  return {
    state,
    env,
    run,
    spawn: (args, extraEnv = {}) => spawnCli([...args, ...base], { cwd: dir, env: { ...env, ...extraEnv } }),
    json: async (args, extraEnv) => {
      const res = await run([...args, '--json'], extraEnv);
      let out: any;
      try {
        out = JSON.parse(res.stdout);
      } catch {
        throw new Error(`not JSON (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
      }
      return { res, out };
    },
  };
}

/** The tenant id of a master key (first 12 hex of SHA-256). */
export async function tenantOf(key: string): Promise<string> {
  const { tenantIdOf } = await import('../../../domain/hash.ts');
  return tenantIdOf(key);
}

/** The rev id of a page: first 12 hex of its SHA-256 (a staged rev's folder must be named so). */
export function revOf(page: string): string {
  return createHash('sha256').update(page).digest('hex').slice(0, 12);
}

/** `n` pages plus one staged rev and one brief of machine `k1`: a push with many objects. */
export function manyFiles(n: number, tag: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`skills/${tag}${String(i).padStart(4, '0')}.md`] = `page ${i} of ${tag}\n${'x'.repeat(i % 300)}\n`;
  files[`staging/alpha/${revOf('staged alpha\n')}/alpha.md`] = 'staged alpha\n';
  files['log/regen-queue/alpha.k1.md'] = 'brief\n';
  return files;
}
