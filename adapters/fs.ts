import { randomBytes } from 'node:crypto';
import { constants, mkdirSync, promises as fs, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkpoint } from '../core/checkpoint.ts';
import { ErrorCode, isSnappyError, SnappyError } from '../core/errors.ts';

/** Writes a file atomically: a temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new SnappyError(`${file} is not valid JSON (${(err as Error).message}); remove it to start over`, { code: ErrorCode.Malformed, details: { path: file } });
  }
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Appends `text` with one write(2) on an O_APPEND descriptor: concurrent appenders never
 * interleave inside it (for the sizes of a log line).
 */
export async function appendAtomic(file: string, text: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
  try {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    const { bytesWritten } = await fh.write(bytes, 0, bytes.length);
    if (bytesWritten !== bytes.length) throw new SnappyError(`short append to ${file}`, { code: ErrorCode.Invalid, details: { path: file } });
  } finally {
    await fh.close();
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * An exclusive lock on a state dir: `.snappy/lock` created with O_EXCL, holding our pid. A lock
 * whose process is gone (killed with -9) is broken. A second holder waits up to `waitMs`.
 */
export async function acquireLock(file: string, opts: { waitMs?: number; what?: string } = {}): Promise<() => Promise<void>> {
  const waitMs = opts.waitMs ?? 30_000;
  const t0 = Date.now();
  await fs.mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await fs.open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt((await fs.readFile(file, 'utf8').catch(() => '')).trim(), 10);
    if (!Number.isFinite(holder) || !isAlive(holder)) {
      // Left by a dead process (or half-written): take it over unless someone else did first.
      const st = await fs.stat(file).catch(() => null);
      if (st && (Number.isFinite(holder) || Date.now() - st.mtimeMs > 2000)) {
        const again = Number.parseInt((await fs.readFile(file, 'utf8').catch(() => '')).trim(), 10);
        if (again === holder || (Number.isNaN(again) && Number.isNaN(holder))) await fs.rm(file, { force: true });
        continue;
      }
    }
    if (Date.now() - t0 > waitMs) {
      throw new SnappyError(`${opts.what ?? 'state dir'} is locked by process ${holder} (${file}); waited ${waitMs} ms`, { code: ErrorCode.Locked, details: { path: file, holder } });
    }
    checkpoint('lock:busy');
    await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** Math.min(attempt, 5), 500)));
  }
}

/** Removes a lock this process holds, synchronously: for a process that must quit at once. */
export function releaseLockSync(file: string): void {
  let holder = '';
  try {
    holder = readFileSync(file, 'utf8').trim();
  } catch {
    return;
  }
  if (holder === String(process.pid)) rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Replaces a small JSON file by rename, without fsync: atomic against a killed process, which
 * is all exactly-once needs (an fsync per 2 MB chunk cost 4x the parsing on a busy disk). After
 * a power cut an unreadable cursor counts as a restart, and consumers recognise re-read rows.
 * The calls are synchronous on purpose: a few tens of microseconds each, where each async
 * step meant a wake-up of the event loop, and on a busy machine every wake-up waits for a
 * time slice (a full build spent more time waiting for those than computing).
 */
export async function writeJsonRenamed(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const text = JSON.stringify(value);
  try {
    writeFileSync(tmp, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, text);
  }
  renameSync(tmp, file);
}

/**
 * A file-system error as a step's failure that names the path (a read of an open file
 * reports none: then it is `fallback`). Errors of other kinds pass unchanged.
 */
export function unreadable(err: unknown, fallback: string, step: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (isSnappyError(err) || typeof e?.code !== 'string' || typeof e.syscall !== 'string') return err;
  const file = e.path ?? fallback;
  const verb = /^(write|rename|unlink|mkdir|link|fsync)$/.test(e.syscall) ? 'write' : 'read';
  return new SnappyError(`${step}: cannot ${verb} ${file}: ${e.message}`, { code: ErrorCode.Invalid, step, details: { path: file, errno: e.code }, cause: err });
}
