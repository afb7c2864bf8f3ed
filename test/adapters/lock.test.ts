// The state-dir lock with real processes: kill -9, SIGSTOP, a pid 1 from another container,
// racing takers. Every holder and taker is its own Node process (test/fixtures/lock).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireLock } from '../../adapters/lock.ts';
import { ROOT } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'lock', 'lock-process.ts');

interface Event {
  event: string;
  pid: number;
  ms?: number;
  busy?: number;
  takeovers?: number;
  code?: string;
  message?: string;
}

class LockProcess {
  readonly child: ChildProcess;
  readonly events: Event[] = [];
  stderr = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(file: string, args: string[] = []) {
    this.child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(buf.slice(0, i)) as Event);
        buf = buf.slice(i + 1);
        for (const w of this.waiters.splice(0)) w();
      }
    });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => {
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
  }

  /** The first event of this kind; fails when the process exits without it. */
  async next(event: string): Promise<Event> {
    for (;;) {
      const e = this.events.find((x) => x.event === event);
      if (e) return e;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`process exited without "${event}": ${JSON.stringify(this.events)} ${this.stderr}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

const running: LockProcess[] = [];
const start = (file: string, args: string[] = []) => {
  const p = new LockProcess(file, args);
  running.push(p);
  return p;
};
test.after.each(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

function lockFile(): string {
  const dir = path.join(tmpDir('snappy-lock-'), '.snappy');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, 'lock');
}

/** The pid namespace line a lock written on this machine carries. */
async function ourNamespace(): Promise<string> {
  const own = lockFile();
  const release = await acquireLock(own);
  const line = readFileSync(own, 'utf8').split('\n')[1]!;
  await release();
  return line;
}

test('a holder killed with -9 is taken over at once in its own pid namespace, long before its heartbeat goes stale', async () => {
  const file = lockFile();
  const holder = start(file, ['--hold', 'forever']);
  const held = await holder.next('acquired');
  assert.is(readFileSync(file, 'utf8').split('\n')[0], String(held.pid));
  holder.kill('SIGKILL');
  await holder.exited;
  // The stale window (60 s) is longer than the taker waits (20 s): only the dead pid can explain a success.
  const taker = start(file, ['--stale', '60000', '--wait', '20000']);
  const got = await taker.next('acquired');
  process.stdout.write(`    kill -9 takeover: ${got.ms} ms\n`);
  assert.is(got.takeovers, 1);
  await taker.next('released');
  assert.equal(readdirSync(path.dirname(file)), [], 'no lock, breaker or temp file is left');
});

test('a live holder keeps the lock with its heartbeat, far past the stale window; the taker fails naming its pid', async () => {
  const file = lockFile();
  const holder = start(file, ['--stale', '1000', '--update', '50', '--hold', 'forever']);
  const held = await holder.next('acquired');
  const taker = start(file, ['--stale', '1000', '--wait', '4000']);
  const e = await taker.next('error');
  assert.is(e.code, 'E_LOCKED');
  assert.match(e.message!, `is locked by process ${held.pid}`);
  assert.match(e.message!, /last heartbeat \d+\.\d s ago/);
  assert.ok(readFileSync(file, 'utf8').startsWith(`${held.pid}\n`), 'the holder still holds it');
});

test('a holder that stalls (SIGSTOP) loses the lock once its heartbeat is stale; resumed, it says so and leaves the new lock alone', async () => {
  const file = lockFile();
  const first = start(file, ['--stale', '1500', '--update', '50', '--hold', 'forever']);
  await first.next('acquired');
  first.kill('SIGSTOP');
  // Its pid is alive in this very namespace: only the heartbeat can tell that it stalled.
  const second = start(file, ['--stale', '1500', '--update', '50', '--wait', '30000', '--hold', 'forever']);
  const got = await second.next('acquired');
  assert.is(got.takeovers, 1);
  assert.ok((got.busy ?? 0) > 0, 'the lock was fresh at first: it was taken over only once stale');
  first.kill('SIGCONT');
  const lost = await first.next('lost');
  assert.match(lost.message!, /stalled past the 1500 ms stale window/);
  assert.ok(readFileSync(file, 'utf8').startsWith(`${got.pid}\n`), 'the resumed process did not touch the new holder\'s lock');
});

test('a lock naming pid 1 (alive here) with a stale heartbeat is taken over at once, in the format of today and of older versions', async () => {
  for (const content of [`1\n${await ourNamespace()}\nabc\n`, '1\n']) {
    const file = lockFile();
    writeFileSync(file, content);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    const taker = start(file, ['--wait', '5000']);
    const got = await taker.next('acquired');
    assert.is(got.takeovers, 1, JSON.stringify(content));
    assert.is(got.busy, 0, 'it did not wait');
    await taker.next('released');
  }
});

test('pid 1 of another container, heartbeat fresh then silent: the lock is taken over when the default stale window passes, within the default wait', async () => {
  const file = lockFile();
  writeFileSync(file, '1\nother-container 00000000-0000-0000-0000-000000000000 pid:[4026531836]\nfeedface\n');
  const taker = start(file, []);
  const got = await taker.next('acquired');
  process.stdout.write(`    pid 1 of another container, fresh lock: taken over after ${got.ms} ms\n`);
  assert.is(got.takeovers, 1);
  assert.ok((got.busy ?? 0) > 0, 'a fresh lock is respected until it goes stale');
});

test('four takers race for one stale lock: one at a time holds it, and every one gets it in turn', async () => {
  const file = lockFile();
  writeFileSync(file, `999999\nsomewhere else\nstale\n`);
  const old = new Date(Date.now() - 60_000);
  utimesSync(file, old, old);
  const log = path.join(path.dirname(file), '..', 'holders.log');
  writeFileSync(log, '');
  const takers = Array.from({ length: 4 }, () => start(file, ['--wait', '30000', '--hold', '150', '--log', log]));
  for (const t of takers) await t.next('released');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 8);
  for (let i = 0; i < lines.length; i += 2) {
    const [a, b] = [lines[i]!.split(' '), lines[i + 1]!.split(' ')];
    assert.equal([a[0], b[0], a[1]], ['in', 'out', b[1]], `two holders at once:\n${lines.join('\n')}`);
  }
  assert.is(takers.reduce((n, t) => n + (t.events[0]!.takeovers ?? 0), 0), 1, 'the stale lock was broken once');
});

test.run();
