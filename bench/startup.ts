// The start-up benchmark: how much a CLI run costs over starting Node at all, measured in the
// same run as its baselines (`node -e 0`, and `rclone sync` for the no-op push over many
// files). Every figure is a median of interleaved runs, so a burst of load elsewhere on the
// machine hits the baseline and the CLI alike. It builds dist/ first (JS only), so what it
// measures is what an installed package runs; one line also times the sources through tsx
// (SNAPPY_FROM_SOURCES=1), what a checkout without a build runs.
// Standalone: node --import tsx bench/startup.ts
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'snappy.cjs');
const PKG = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;

interface Cmd {
  cmd: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

function once(c: Cmd): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { cwd: c.cwd ?? ROOT, env: c.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.cmd} ${c.args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 2000)}`);
  return ms;
}

/** Medians of `runs` rounds; each round runs every command once, in turn. */
function interleaved(cmds: Record<string, Cmd>, runs: number): Record<string, number> {
  for (const c of Object.values(cmds)) once(c); // warm the file cache
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, c] of Object.entries(cmds)) times[k]!.push(once(c));
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Env without the caller's SNAPPY_* settings, with a fixed machine id and master key. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_')) env[k] = v;
  return { ...env, SNAPPY_MACHINE_ID: 'bench', SNAPPY_MASTER_KEY: 'bench-master-key-0123456789abcdef' };
}

/**
 * A copy of the embedded default (the example state, its `.ts` config and the example regen
 * agent) in `dir`, with the package linked into its node_modules as an installed project
 * would have it, after one push that does the real work: later pushes have nothing to do.
 */
function embeddedDefault(dir: string, env: NodeJS.ProcessEnv): string {
  const project = path.join(dir, 'embedded');
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, path.join(project, 'node_modules', PKG), 'dir');
  cpSync(path.join(ROOT, 'state'), path.join(project, 'state'), { recursive: true, filter: (src) => !src.includes(`${path.sep}.snappy`) });
  cpSync(path.join(ROOT, 'examples'), path.join(project, 'examples'), { recursive: true });
  cpSync(path.join(ROOT, 'snappy.config.ts'), path.join(project, 'snappy.config.ts'));
  once({ cmd: process.execPath, args: [BIN, 'run', 'push', '--auto'], cwd: project, env });
  return project;
}

/** `files` small skill pages under a config that runs the sync alone, pushed once. */
function manyFiles(dir: string, files: number, env: NodeJS.ProcessEnv): { project: string; args: string[] } {
  const project = path.join(dir, 'many');
  const state = path.join(project, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(path.join(state, 'skills', `s${String(i).padStart(6, '0')}.md`), `---\nname: s${i}\n---\npage ${i}\n`);
  writeFileSync(path.join(project, 'snappy.config.json'), JSON.stringify({ builtins: ['sync'] }));
  const args = [BIN, 'run', 'push', '--state', state, '--remote', `file://${path.join(project, 'remote')}`];
  once({ cmd: process.execPath, args, cwd: project, env });
  return { project, args };
}

export async function benchStartup(opts: { runs?: number; files?: number; dir?: string } = {}): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 15;
  const files = opts.files ?? 10_000;
  const dir = mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'startup-'));
  const env = cleanEnv();
  const node = process.execPath;
  try {
    const res: Record<string, unknown> = {};
    if (existsSync(path.join(ROOT, 'scripts', 'build.mjs'))) {
      const build = spawnSync(node, [path.join(ROOT, 'scripts', 'build.mjs'), '--js-only'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
      res.build = build.stderr.trim();
    }
    const deadlines: { what: string; value: number; limit: number }[] = [];
    const project = embeddedDefault(dir, env);
    const m = interleaved(
      {
        bare: { cmd: node, args: ['-e', '0'] },
        version: { cmd: node, args: [BIN, '--version'], env },
        help: { cmd: node, args: [BIN, '--help'], env },
        push: { cmd: node, args: [BIN, 'run', 'push', '--auto'], cwd: project, env },
        pushSources: { cmd: node, args: [BIN, 'run', 'push', '--auto'], cwd: project, env: { ...env, SNAPPY_FROM_SOURCES: '1' } },
      },
      runs,
    );
    res['node -e 0 (ms, median)'] = round(m.bare!);
    res['snappy --version (ms, median)'] = round(m.version!);
    res['snappy --help (ms, median)'] = round(m.help!);
    res['snappy run push --auto, no-op on the embedded default with its .ts config (ms, median)'] = round(m.push!);
    res['the same from the sources through tsx, as a checkout without a build runs it (ms, median)'] = round(m.pushSources!);
    deadlines.push({ what: 'snappy --version / node -e 0', value: round(m.version! / m.bare!), limit: 1.2 });
    deadlines.push({ what: 'snappy --help / node -e 0', value: round(m.help! / m.bare!), limit: 2 });
    deadlines.push({ what: 'no-op snappy run push --auto (embedded default, .ts config) / node -e 0', value: round(m.push! / m.bare!), limit: 3 });

    const rclone = spawnSync('rclone', ['version'], { encoding: 'utf8' });
    if (rclone.status !== 0) {
      res[`no-op push over ${files} files vs rclone sync`] = 'skipped: rclone is not installed (apt-get install -y rclone)';
    } else {
      const many = manyFiles(dir, files, env);
      const renv = { ...process.env };
      delete renv.AWS_CA_BUNDLE; // rclone's S3 backend refuses to start with it set; harmless here
      const src = path.join(many.project, 'state', 'skills');
      const dest = path.join(many.project, 'rclone-dest');
      const rc = { cmd: 'rclone', args: ['sync', src, dest], env: renv };
      once(rc);
      const s = interleaved({ snappy: { cmd: node, args: many.args, cwd: many.project, env }, rclone: rc }, Math.max(5, Math.ceil(runs / 3)));
      res[`no-op snappy run push over ${files} files, whole CLI (ms, median)`] = round(s.snappy!);
      res[`rclone sync no-op over ${files} files, size+modtime (ms, median)`] = round(s.rclone!);
      deadlines.push({ what: `no-op push over ${files} files, whole CLI / rclone sync`, value: round(s.snappy! / s.rclone!), limit: 1.5 });
    }
    return { ...res, deadlines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchStartup());
}
