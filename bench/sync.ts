// The sync benchmark: a push with nothing changed over many small files, against `rclone sync`
// (size + modtime) between the same kind of folders, measured in the same run; and the
// requests a no-op push makes against a real s3rver (goal: at most one GET; we make none).
// Standalone: node --import tsx bench/sync.ts [FILES]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'snappy.cjs');

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SNAPPY_')) env[k] = v;
  return { ...env, SNAPPY_MACHINE_ID: 'bench', SNAPPY_MASTER_KEY: 'bench-key', ...extra };
}

/** Runs the real CLI; returns wall ms and the push report. */
async function push(args: string[], env: Record<string, string>, cwd: string): Promise<{ ms: number; report: Record<string, any> }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'run', 'push', '--json', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`snappy run push exited ${code}: ${err}`);
  return { ms, report: JSON.parse(out).reports.push };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export async function benchSync(opts: { files: number; dir: string }): Promise<Record<string, unknown>> {
  const base = mkdtempSync(path.join(opts.dir, 'sync-'));
  const state = path.join(base, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  for (let i = 0; i < opts.files; i++) writeFileSync(path.join(state, 'skills', `s${String(i).padStart(6, '0')}.md`), `---\nname: s${i}\n---\npage ${i}\n`);
  const config = path.join(base, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));
  const remote = `file://${path.join(base, 'remote')}`;
  const args = ['--state', state, '--remote', remote, '--config', config];
  const env = cleanEnv({});
  const res: Record<string, unknown> = { files: opts.files };

  const first = await push(args, env, base);
  res['first push, file:// (s, wall)'] = r1(first.ms / 1000);
  const noop: number[] = [];
  const inTask: number[] = [];
  for (let i = 0; i < 5; i++) {
    const n = await push(args, env, base);
    if (n.report.files !== 0) throw new Error(`a no-op push sent ${n.report.files} files`);
    noop.push(n.ms);
    inTask.push(n.report.ms.total);
  }
  res['no-op push, whole CLI (ms, median of 5)'] = Math.round(median(noop));
  res['no-op push, the push task alone: walk + stat vs manifest (ms, median)'] = Math.round(median(inTask));

  const rclone = spawnSync('rclone', ['version'], { encoding: 'utf8' });
  if (rclone.status === 0) {
    const renv = { ...process.env };
    delete renv.AWS_CA_BUNDLE; // rclone refuses to start with it set
    const dest = path.join(base, 'rclone-dest');
    const sync = () => {
      const t0 = performance.now();
      const r = spawnSync('rclone', ['sync', path.join(state, 'skills'), dest], { env: renv, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`rclone sync failed: ${r.stderr}`);
      return performance.now() - t0;
    };
    sync();
    const times = Array.from({ length: 5 }, sync);
    res['rclone sync no-op, size+modtime (ms, median of 5)'] = Math.round(median(times));
    res['ratio snappy no-op CLI / rclone'] = r1(median(noop) / median(times));
  } else {
    res.rclone = 'not installed (apt-get install -y rclone); comparison skipped';
  }

  // Requests a no-op push makes against a real S3 server, counted by a proxy in front of it.
  const s3Files = Math.min(opts.files, 1000);
  const { startS3rver } = await import('../test/helpers/s3rver.ts');
  const { countingProxy } = await import('../test/plugins/sync/counting-proxy.ts');
  const srv = await startS3rver(['snappy']);
  const proxy = await countingProxy(srv.endpoint);
  try {
    const s3state = path.join(base, 's3state');
    mkdirSync(path.join(s3state, 'skills'), { recursive: true });
    for (let i = 0; i < s3Files; i++) writeFileSync(path.join(s3state, 'skills', `s${i}.md`), `page ${i}\n`);
    const s3args = ['--state', s3state, '--remote', 's3://snappy/bench', '--config', config];
    const s3env = cleanEnv({ ...srv.env, AWS_ENDPOINT_URL: proxy.endpoint });
    const t0 = performance.now();
    await push(s3args, s3env, base);
    res[`first push of ${s3Files} files to s3rver (s, wall)`] = r1((performance.now() - t0) / 1000);
    res[`requests of that first push`] = proxy.requests.length;
    proxy.requests.length = 0;
    const n = await push(s3args, s3env, base);
    res[`no-op push to s3rver over ${s3Files} files (ms, wall)`] = Math.round(n.ms);
    res['requests made by a no-op push to s3rver'] = proxy.requests.length;
  } finally {
    await proxy.close();
    await srv.stop();
    rmSync(base, { recursive: true, force: true });
  }
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-bench-sync-'));
  try {
    console.log(await benchSync({ files: Number(process.argv[2] ?? 10_000), dir }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
