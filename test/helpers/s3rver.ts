import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.ts';

/** A real s3rver on loopback, in its own process (so tests can kill it mid-request). */
export interface S3Server {
  endpoint: string;
  port: number;
  dir: string;
  /** Environment for an S3 client pointed at it (keys S3RVER/S3RVER, region us-east-1). */
  env: Record<string, string>;
  /** Stops it gracefully. */
  stop(): Promise<void>;
  /** kill -9 (data stays in `dir`); `start()` brings it back on the same port and dir. */
  kill(): Promise<void>;
  start(): Promise<void>;
  process(): ChildProcess | undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts s3rver with the given buckets. Stop it in `test.after`. */
export async function startS3rver(buckets: string[] = ['snappy']): Promise<S3Server> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-s3rver-'));
  let child: ChildProcess | undefined;
  const script = `
    import S3rver from 's3rver';
    const s = new S3rver({ port: ${port}, address: '127.0.0.1', directory: ${JSON.stringify(dir)}, silent: true,
      configureBuckets: ${JSON.stringify(buckets)}.map((name) => ({ name })) });
    await s.run();
    process.stdout.write('ready\\n');
  `;
  const start = async () => {
    child = spawn(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`s3rver did not start: ${err}`)), 20_000);
      child!.stderr!.on('data', (d) => (err += d));
      child!.stdout!.on('data', (d) => {
        if (String(d).includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      child!.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`s3rver exited (${code}): ${err}`));
      });
    });
  };
  const killWith = async (sig: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(sig);
    });
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    stop: async () => {
      await killWith('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => killWith('SIGKILL'),
    start,
    process: () => child,
  };
}
