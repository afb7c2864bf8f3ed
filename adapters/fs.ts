import { randomBytes } from 'node:crypto';
import { constants, mkdirSync, promises as fs, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
  const text = await readTextFile(file);
  return text === undefined ? undefined : parseJsonText<T>(file, text);
}

/** A file's text; undefined when there is no such file. */
export async function readTextFile(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** `text` (the content of `file`) as JSON; invalid JSON is an error naming the file. */
export function parseJsonText<T>(file: string, text: string): T {
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
