import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { collect, type CliResult } from './cli.ts';
import { tmpDir } from './tmp.ts';

/** One checkpoint pass a process reported (core/checkpoint.ts). */
export interface Pass {
  pid: number;
  point: string;
  /** Its n-th pass of `point`. */
  n: number;
}

/**
 * A file that CLI processes started with `env()` report their checkpoints to, and the means
 * to wait for a pass, hold a process at one, and release it.
 */
export class CheckpointLog {
  readonly file: string;

  constructor(dir = tmpDir('snappy-checkpoints-')) {
    this.file = path.join(dir, `progress-${Math.random().toString(36).slice(2)}.log`);
    writeFileSync(this.file, '');
  }

  /** Environment for a process that reports here; `hold` stops it at that pass (`point@n`). */
  env(hold?: { point: string; n: number }): Record<string, string> {
    return { SNAPPY_TEST_PROGRESS: this.file, ...(hold ? { SNAPPY_TEST_HOLD: `${hold.point}@${hold.n}` } : {}) };
  }

  passes(): Pass[] {
    const text = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [pid, point, n] = l.split(' ');
        return { pid: Number(pid), point: point!, n: Number(n) };
      });
  }

  count(point: string, pid?: number): number {
    return this.passes().filter((p) => p.point === point && (pid === undefined || p.pid === pid)).length;
  }

  /** Lets every held process go on (and any later hold pass straight through). */
  release(): void {
    writeFileSync(`${this.file}.release`, '');
  }

  /** Resolves when `ready` holds for the passes reported so far, or rejects when `gaveUp` says so. */
  until(ready: (passes: Pass[]) => boolean, gaveUp: () => string | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (ready(this.passes())) return done(resolve);
        const why = gaveUp();
        if (why !== undefined) return done(() => reject(new Error(why)));
      };
      const timer = setInterval(check, 2);
      const done = (f: () => void) => {
        clearInterval(timer);
        f();
      };
      check();
    });
  }
}

/** How a run ended, and the passes it reported. */
export interface KillOutcome {
  result: CliResult;
  /** True when the process reached the kill point and died of the SIGKILL sent there. */
  killed: boolean;
  passes: Pass[];
}

/**
 * Runs a CLI process and kill -9s it the moment it reports the `n`-th pass of `point`. With
 * `hold`, the process waits at that pass, so the kill lands exactly there; without, it lands
 * wherever the process has got to by then (a write half done, say). A process that ends
 * before it reaches the point is not killed.
 */
export async function killAt(log: CheckpointLog, start: (env: Record<string, string>) => ChildProcess, at: { point: string; n: number; hold: boolean }): Promise<KillOutcome> {
  const child = start(log.env(at.hold ? { point: at.point, n: at.n } : undefined));
  const result = collect(child, { timeoutMs: 300_000 });
  let exited = false;
  void result.then(() => (exited = true));
  let sent = false;
  await log
    .until(
      (ps) => ps.some((p) => p.pid === child.pid && p.point === at.point && p.n === at.n),
      () => (exited ? 'exited' : undefined),
    )
    .then(
      () => {
        sent = child.kill('SIGKILL');
      },
      () => undefined,
    );
  const r = await result;
  return { result: r, killed: sent && r.signal === 'SIGKILL', passes: log.passes().filter((p) => p.pid === child.pid) };
}
