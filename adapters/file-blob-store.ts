import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, rmSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { assertSafeKey, toBytes, type BlobInfo, type BlobStore, type PutOptions } from '../core/ports.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';

const TMP = '.tmp';
const LOCKS = '.locks';
const STALE_LOCK_MS = 30_000;
/** A temp file lives for one write; one this old was left by a killed process. */
const STALE_TMP_MS = 60 * 60_000;

/**
 * The embedded default remote: a folder. Writes are atomic (temp file + rename); create-only
 * writes use link(2), which fails if the target exists, so two writers can never both win;
 * `ifMatch` writes take a per-key lock directory (mkdir is atomic; a lock older than 30 s is
 * taken to be left by a killed process and broken).
 */
export class FileBlobStore implements BlobStore {
  readonly url: string;
  private swept = false;
  constructor(readonly root: string) {
    this.url = `file://${root}`;
  }

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await fs.readFile(this.file(key));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const st = await fs.stat(this.file(key), { bigint: true });
      return st.isFile() ? { key, size: Number(st.size), etag: etagOfStat(st) } : null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    const target = this.file(key);
    const bytes = toBytes(body);
    const tmp = await this.writeTemp(bytes);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      if (opts.ifAbsent) {
        try {
          await fs.link(tmp, target);
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        }
      }
      if (opts.ifMatch !== undefined) {
        return await this.withLock(key, async () => {
          const cur = await this.head(key);
          if (!cur || cur.etag !== opts.ifMatch) return false;
          await fs.rename(tmp, target);
          return true;
        });
      }
      await fs.rename(tmp, target);
      return true;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async *list(prefix: string, opts: { startAfter?: string } = {}): AsyncIterable<BlobInfo> {
    const keys: { key: string; size: number; etag: string }[] = [];
    // Walk only the directory that can hold the prefix.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = dirKey ? path.join(this.root, ...dirKey.split('/')) : this.root;
    await walk(start, dirKey, keys, dirKey === '');
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const k of keys) {
      if (!k.key.startsWith(prefix)) continue;
      if (opts.startAfter !== undefined && k.key <= opts.startAfter) continue;
      yield { key: k.key, size: k.size, etag: k.etag };
    }
  }

  async copy(from: string, to: string): Promise<void> {
    const bytes = await this.get(from);
    if (!bytes) throw new SnappyError(`copy: no object at ${from} in ${this.url}`, { code: ErrorCode.NotFound, status: 404 });
    await this.put(to, bytes);
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }

  private async writeTemp(bytes: Uint8Array): Promise<string> {
    const dir = path.join(this.root, TMP);
    await fs.mkdir(dir, { recursive: true });
    if (!this.swept) {
      this.swept = true;
      await sweepStaleTemps(dir);
    }
    const tmp = path.join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const dir = path.join(this.root, LOCKS);
    await fs.mkdir(dir, { recursive: true });
    const lock = path.join(dir, createHash('sha256').update(key).digest('hex').slice(0, 32));
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.mkdir(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await fs.stat(lock).catch(() => null);
        if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fs.rm(lock, { recursive: true, force: true });
        else await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** Math.min(attempt, 6), 200)));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }
}

/** Removes temp files a killed writer left behind (any machine's: the age tells, not the pid). */
async function sweepStaleTemps(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const st = await fs.stat(file).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > STALE_TMP_MS) await fs.rm(file, { force: true });
  }
}

/**
 * Removes this process's temp files under a file remote `root`, synchronously: for a process
 * that quits at once in the middle of writes.
 */
export function removeOwnTempFilesSync(root: string): void {
  const dir = path.join(root, TMP);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(`${process.pid}-`)) rmSync(path.join(dir, name), { force: true });
}

async function walk(dir: string, keyPrefix: string, out: { key: string; size: number; etag: string }[], top: boolean): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw err;
  }
  // Side by side (the caller sorts): one wait for a folder's entries, not one per entry.
  await Promise.all(
    entries.map(async (e) => {
      if (top && (e.name === TMP || e.name === LOCKS)) return;
      const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full, key, out, false);
      else if (e.isFile()) {
        const st = await fs.stat(full, { bigint: true }).catch(() => null);
        if (st) out.push({ key, size: Number(st.size), etag: etagOfStat(st) });
      }
    }),
  );
}

/**
 * The file store's etag: inode, size and mtime in nanoseconds. Every write is a rename of a
 * fresh temp file (a new inode), so every write changes it and it never returns to an old
 * value; and listing or HEAD cost a stat, not a read.
 */
export function etagOfStat(st: BigIntStats): string {
  return `${st.ino.toString(36)}-${st.size.toString(36)}-${st.mtimeNs.toString(36)}`;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
