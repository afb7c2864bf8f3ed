import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../adapters/fs.ts';
import { isHardDenied } from '../../domain/state-layout.ts';
import { isSafeRel, type SyncFilter } from './paths.ts';
import { ErrorCode, SnappyError } from '../../core/errors.ts';

/** A file sync will not send or write, with the reason; never retried. */
export class Refusal extends SnappyError {
  constructor(
    readonly rel: string,
    readonly reason: string,
  ) {
    super(`${rel}: ${reason}`, { code: ErrorCode.Refused, details: { path: rel } });
    this.name = 'Refusal';
  }
}

/** Bytes of a local file as read for upload, with the stat that goes into the manifest. */
export interface LocalRead {
  bytes: Uint8Array;
  size: number;
  mtimeMs: number;
}

/**
 * The state dir as sync touches it. Every read for upload re-checks, at that moment, that the
 * path is not hard-denied, that no symlink on it leads out of the state dir or into a denied
 * file, and that the file is not a hard link to a hard-denied file. Writes never go through a
 * symlinked folder out of the state dir and replace (never follow) a symlink at the target.
 */
export class StateFiles {
  private realRoot = '';
  /** `dev:ino` of every hard-denied file in the state dir, to its path; found when first needed. */
  private deniedInodes: Promise<Map<string, string>> | undefined;

  constructor(
    readonly root: string,
    private readonly filter: SyncFilter,
  ) {}

  async init(): Promise<this> {
    await fs.mkdir(this.root, { recursive: true });
    this.realRoot = await fs.realpath(this.root);
    return this;
  }

  abs(rel: string): string {
    // A safe path joins as it is where the separator is `/`: no segment to resolve. A scan
    // asks this for every file in the state dir.
    if (path.sep === '/' && isSafeRel(rel)) return `${this.rootSlash}${rel}`;
    return path.join(this.root, ...rel.split('/'));
  }

  private get rootSlash(): string {
    if (this.#rootSlash === undefined) {
      const root = path.join(this.root);
      this.#rootSlash = root.endsWith('/') ? root : `${root}/`;
    }
    return this.#rootSlash;
  }

  #rootSlash: string | undefined;

  /** Where `rel` really leads, relative to the state dir; throws a Refusal when it leaves it. */
  private async realRel(rel: string, full: string): Promise<string> {
    const real = await fs.realpath(full);
    const r = path.relative(this.realRoot, real);
    if (!r || r.startsWith('..') || path.isAbsolute(r)) throw new Refusal(rel, 'is a symlink that leads outside the state dir (not followed)');
    return r.split(path.sep).join('/');
  }

  /** Reads a file for upload, after every check. Null when it vanished since the scan. */
  async readForUpload(rel: string): Promise<LocalRead | null> {
    if (!isSafeRel(rel)) throw new Refusal(rel, 'is not a safe relative path inside the state dir');
    if (isHardDenied(rel)) throw new Refusal(rel, 'is under the hard deny (log/evals.ndjson and every copy of it, ready/, .snappy/): it never leaves this machine');
    const full = this.abs(rel);
    let target: string;
    try {
      target = await this.realRel(rel, full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (target !== rel && this.filter.denies(target)) throw new Refusal(rel, `is a symlink to ${target}, which is denied (not followed)`);
    let fh;
    try {
      fh = await fs.open(path.join(this.realRoot, ...target.split('/')), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') throw new Refusal(rel, 'changed into a symlink while being read (not followed)');
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Refusal(rel, 'is not a regular file');
      // Only a file with more than one name can be another name of a denied file.
      if (st.nlink > 1) {
        const twin = (await (this.deniedInodes ??= deniedInodes(this.realRoot))).get(`${st.dev}:${st.ino}`);
        if (twin !== undefined) throw new Refusal(rel, `is a hard link to ${twin} (hard deny)`);
      }
      const bytes = await fh.readFile();
      return { bytes, size: st.size, mtimeMs: st.mtimeMs };
    } finally {
      await fh.close();
    }
  }

  /** The local file as it is now (no symlinks followed): null when absent. */
  async readLocal(rel: string): Promise<{ bytes: Uint8Array | null; link: boolean } | null> {
    const full = this.abs(rel);
    const st = await fs.lstat(full).catch(() => null);
    if (!st) return null;
    if (!st.isFile()) return { bytes: null, link: true };
    return { bytes: await fs.readFile(full), link: false };
  }

  async statLocal(rel: string): Promise<{ size: number; mtimeMs: number } | null> {
    const st = await fs.lstat(this.abs(rel)).catch(() => null);
    return st ? { size: st.size, mtimeMs: st.mtimeMs } : null;
  }

  /** Writes a pulled file atomically; returns the stat the manifest records. */
  async write(rel: string, bytes: Uint8Array): Promise<{ size: number; mtimeMs: number }> {
    if (!isSafeRel(rel) || isHardDenied(rel)) throw new Refusal(rel, 'a pull never writes here (hard deny or unsafe path)');
    const full = this.abs(rel);
    const dir = path.dirname(full);
    await fs.mkdir(dir, { recursive: true });
    const realDir = path.relative(this.realRoot, await fs.realpath(dir));
    if (realDir.startsWith('..') || path.isAbsolute(realDir)) throw new Refusal(rel, 'its folder is a symlink that leads outside the state dir');
    const realRel = [...(realDir ? realDir.split(path.sep) : []), path.basename(full)].join('/');
    if (realRel !== rel && this.filter.denies(realRel)) throw new Refusal(rel, `its folder leads to ${realRel}, which is denied`);
    const target = path.join(this.realRoot, ...realRel.split('/'));
    await writeFileAtomic(target, bytes);
    const st = await fs.stat(target);
    return { size: st.size, mtimeMs: st.mtimeMs };
  }

  async remove(rel: string): Promise<void> {
    if (!isSafeRel(rel) || isHardDenied(rel)) return;
    await fs.rm(this.abs(rel), { force: true });
  }
}

/** Every hard-denied regular file under `root` (the raw log and its copies, ready/, .snappy/), by `dev:ino`. */
async function deniedInodes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (dir: string, prefix: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const rel = prefix + e.name;
      if (e.isDirectory()) await visit(path.join(dir, e.name), `${rel}/`);
      else if (e.isFile() && isHardDenied(rel)) {
        const st = await fs.lstat(path.join(dir, e.name)).catch(() => null);
        if (st) out.set(`${st.dev}:${st.ino}`, rel);
      }
    }
  };
  await visit(root, '');
  return out;
}

/** Every file and symlink under the state dir, relative and POSIX, skipping the hard-denied folders. */
export async function walkState(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    const subdirs: Promise<void>[] = [];
    for (const e of entries) {
      const rel = prefix + e.name;
      if (e.isDirectory()) {
        if (isHardDenied(`${rel}/`) || rel === 'canonical') continue;
        subdirs.push(visit(path.join(dir, e.name), `${rel}/`));
      } else if (e.isFile() || e.isSymbolicLink()) out.push(rel);
    }
    await Promise.all(subdirs);
  };
  await visit(root, '');
  return out.sort();
}
