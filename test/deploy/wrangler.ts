import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { ROOT, collect, type CliResult } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** wrangler's own entry, started with node: killing an npx wrapper would leave workerd running. */
export const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/** wrangler without prompts, telemetry or colour. */
export const WRANGLER_ENV = { CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };

/** Runs a command of the documented kind (`npx wrangler ...`) to its end. */
export function npxWrangler(args: string[], cwd: string, timeoutMs = 240_000): Promise<CliResult> {
  const child = spawn('npx', ['--no-install', 'wrangler', ...args], { cwd, env: { ...process.env, ...WRANGLER_ENV }, stdio: ['pipe', 'pipe', 'pipe'] });
  return collect(child, { timeoutMs });
}

/**
 * A fresh checkout as a user has it after `git clone` and `npm ci`: the sources the Worker and
 * its build need, the root config files, and node_modules (linked). wrangler's state, the
 * build output and .dev.vars then live in it, never in the repository under test.
 */
export function checkoutCopy(): string {
  const dir = tmpDir('snappy-checkout-');
  for (const d of ['core', 'domain', 'adapters', 'plugins', 'lifecycle', 'worker', 'cli']) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  for (const f of ['package.json', 'wrangler.toml', '.dev.vars.example', 'snappy.config.ts']) cpSync(path.join(ROOT, f), path.join(dir, f));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  mkdirSync(path.join(dir, 'examples'));
  return dir;
}

/** `wrangler dev` running in its own process group. */
export interface WranglerDev {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM to the whole group, then SIGKILL to whatever is left; resolves once the group is gone. */
  stop(): Promise<void>;
}

const running = new Set<WranglerDev>();
process.on('exit', () => {
  for (const d of running) {
    try {
      process.kill(-d.child.pid!, 'SIGKILL');
    } catch {}
  }
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `wrangler dev --local` in `dir` on `port` and waits until it says it is ready (or
 * exits, or `readyWithinMs` passes: well inside the test runner's limit, so that this file can
 * still stop it).
 */
export async function startWranglerDev(dir: string, port: number, readyWithinMs = 240_000): Promise<WranglerDev> {
  const child = spawn(process.execPath, [WRANGLER, 'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--show-interactive-dev-session=false'], {
    cwd: dir,
    env: { ...process.env, ...WRANGLER_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dev: WranglerDev = {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop() {
      running.delete(dev);
      const pid = child.pid!;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {}
      for (let i = 0; i < 100 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (groupAlive(pid)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {}
      }
      await exited;
      for (let i = 0; i < 100 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    },
  };
  running.add(dev);
  const ready = `Ready on http://127.0.0.1:${port}`;
  const t0 = Date.now();
  while (!out.includes(ready)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}`);
    if (Date.now() - t0 > readyWithinMs) {
      await dev.stop();
      throw new Error(`wrangler dev was not ready after ${readyWithinMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return dev;
}

/** How many builds wrangler dev has run (its `[custom build] Running:` lines). */
export function buildsIn(output: string): number {
  return output.split('\n').filter((l) => l.includes('[custom build] Running:')).length;
}
