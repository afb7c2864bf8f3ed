import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, promises as fs, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkpoint } from '../core/checkpoint.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/**
 * An exclusive lock on a state dir (`.snappy/lock`), safe across containers and shared file
 * systems. The holder touches the lock's mtime every `updateMs` (a heartbeat); a lock whose
 * mtime is older than `staleMs` is abandoned whoever wrote it, so a holder killed with -9 in
 * another container, or on another host sharing the folder, costs at most `staleMs`. A pid is
 * believed only when the lock was written in this very pid namespace (same host, boot and
 * namespace): then a dead holder is taken over at once. Hosts sharing a state dir over a
 * network file system need clocks that agree to well within `staleMs`.
 */
export interface LockOptions {
  /** How long a second holder waits before failing with E_LOCKED (default 30 s). */
  waitMs?: number;
  /** Names the locked thing in the error (default "state dir"). */
  what?: string;
  /** A lock not touched for this long is abandoned (default LOCK_STALE_MS). */
  staleMs?: number;
  /** The holder's heartbeat period (default a quarter of `staleMs`). */
  updateMs?: number;
  /** Told when the heartbeat finds the lock taken over (the holder stalled past `staleMs`). */
  onLost?: (message: string) => void;
}

/** Default stale window: a heartbeat every 2.5 s, so a holder must stall for 7.5 s or more to lose it. */
export const LOCK_STALE_MS = 10_000;

/** A lock left without its content (a writer killed between create and write) is abandoned after this. */
const EMPTY_STALE_MS = 2_000;

interface Holder {
  raw: string;
  pid: number;
  /** Where the pid means something; '' for a lock written by an older snappy (pid only). */
  where: string;
  token: string;
  mtimeMs: number;
}

interface Held {
  content: string;
  timer: ReturnType<typeof setInterval>;
}

const held = new Map<string, Held>();

/** Acquires the lock at `file`; resolves to its release. */
export async function acquireLock(file: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const waitMs = opts.waitMs ?? 30_000;
  const staleMs = opts.staleMs ?? LOCK_STALE_MS;
  const updateMs = opts.updateMs ?? Math.max(10, Math.floor(staleMs / 4));
  const t0 = Date.now();
  const content = `${process.pid}\n${pidNamespace()}\n${randomBytes(12).toString('hex')}\n`;
  mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    if (createWhole(file, content)) {
      const timer = setInterval(() => void heartbeat(file, content, opts), updateMs);
      timer.unref();
      held.set(file, { content, timer });
      return async () => releaseLockSync(file);
    }
    const holder = await readHolder(file);
    if (!holder) continue; // released meanwhile: try again at once
    if (abandoned(holder, staleMs) && (await takeOver(file, holder, staleMs))) continue;
    if (Date.now() - t0 > waitMs) {
      const age = Math.max(0, Date.now() - holder.mtimeMs);
      const elsewhere = holder.where && holder.where !== pidNamespace() ? ` (${hostOf(holder.where)}, another host or container)` : '';
      throw new SnappyError(`${opts.what ?? 'state dir'} is locked by process ${holder.pid || '?'}${elsewhere} (${file}, last heartbeat ${(age / 1000).toFixed(1)} s ago); waited ${waitMs} ms`, {
        code: ErrorCode.Locked,
        details: { path: file, holder: holder.pid, heartbeatAgeMs: Math.round(age) },
      });
    }
    checkpoint('lock:busy');
    await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** Math.min(attempt, 5), 250)));
  }
}

/**
 * Removes a lock this process holds, synchronously (also what the release `acquireLock` gives
 * does). Only our own lock: after a stall another process may hold it now.
 */
export function releaseLockSync(file: string): void {
  const h = held.get(file);
  if (!h) return;
  clearInterval(h.timer);
  held.delete(file);
  let now = '';
  try {
    now = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  if (now === h.content) rmSync(file, { force: true });
}


async function heartbeat(file: string, content: string, opts: LockOptions): Promise<void> {
  const h = held.get(file);
  if (!h || h.content !== content) return;
  const now = await fs.readFile(file, 'utf8').catch(() => null);
  if (now !== content) {
    clearInterval(h.timer);
    held.delete(file);
    const msg = `lost the lock ${file}: this process stalled past the ${opts.staleMs ?? LOCK_STALE_MS} ms stale window and another took the lock over`;
    if (opts.onLost) opts.onLost(msg);
    else process.stderr.write(`snappy: warning: ${msg}\n`);
    return;
  }
  const t = new Date();
  await fs.utimes(file, t, t).catch(() => {});
}

/**
 * Creates `file` holding `content`, or returns false when it exists. Written to a temp file
 * and linked into place, so the lock never exists half-written; a file system without hard
 * links gets an exclusive create and a write. Synchronous: a few small calls, at a moment when
 * nothing else runs, each of which would otherwise wait for the event loop.
 */
function createWhole(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, content, { flag: 'wx' });
    try {
      linkSync(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // never made, or gone already
    }
  }
  try {
    writeFileSync(file, content, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function readHolder(file: string): Promise<Holder | null> {
  try {
    const [raw, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    const [pid, where, token] = raw.split('\n');
    return { raw, pid: Number.parseInt(pid ?? '', 10) || 0, where: where ?? '', token: token ?? '', mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function abandoned(h: Holder, staleMs: number): boolean {
  const age = Date.now() - h.mtimeMs;
  if (!h.pid) return age > Math.min(EMPTY_STALE_MS, staleMs);
  if (age > staleMs) return true;
  // A pid means something only in the namespace that wrote it (an older snappy wrote no namespace).
  if (h.where && h.where !== pidNamespace()) return false;
  // Our own pid on a lock we do not hold: its writer died and the pid came round to us.
  if (h.pid === process.pid) return ![...held.values()].some((x) => x.content === h.raw);
  return !isAlive(h.pid);
}

/**
 * Removes an abandoned lock, at most one taker at a time: a second `.break` lock (held for a
 * moment) serialises takers, and the lock is checked again under it, so a lock made afresh by
 * a faster taker is never removed. False when another taker is at it: wait a moment.
 */
async function takeOver(file: string, seen: Holder, staleMs: number): Promise<boolean> {
  const breaker = `${file}.break`;
  if (!(await createWhole(breaker, `${process.pid}\n`))) {
    const st = await fs.stat(breaker).catch(() => null);
    // Left by a taker killed while holding it: it is never held for more than a few file operations.
    if (!st) return true;
    if (Date.now() - st.mtimeMs > staleMs) {
      await fs.rm(breaker, { force: true });
      return true;
    }
    return false;
  }
  try {
    const now = await readHolder(file);
    if (now && now.raw === seen.raw && abandoned(now, staleMs)) {
      checkpoint('lock:takeover');
      await fs.rm(file, { force: true });
    }
    return true;
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

let namespace: string | undefined;

/**
 * Where a pid means this process's pid: host name, boot and pid namespace. Containers on one
 * host differ in their namespace; one container restarted keeps its host name but not its
 * namespace.
 */
function pidNamespace(): string {
  if (namespace !== undefined) return namespace;
  let boot = '';
  let ns = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    /* not Linux: the host name has to do */
  }
  try {
    ns = readlinkSync('/proc/self/ns/pid');
  } catch {
    /* idem */
  }
  namespace = [os.hostname(), boot, ns].join(' ').replace(/\n/g, ' ');
  return namespace;
}

function hostOf(where: string): string {
  return `host ${where.split(' ')[0]}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
