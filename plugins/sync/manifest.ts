import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseJsonText, readTextFile, writeFileAtomic } from '../../adapters/fs.ts';
import { State } from '../../domain/state-layout.ts';

/** What the last sync left for one local file. */
export interface FileRecord {
  /** Local size and mtime when `hash` was taken: equal now means unchanged, no hashing needed. */
  size: number;
  mtimeMs: number;
  /** Content hash of the bytes last pushed or pulled. */
  hash: string;
  /** The remote object it syncs with, and that object's etag when last seen. */
  key: string;
  etag?: string;
  /** `pull` for files that came from the remote (pulled staged revs are never pushed back). */
  origin: 'push' | 'pull';
}

/** Everything sync remembers about one remote, in `.snappy/sync/<remote-hash>.json`. */
export interface Manifest {
  v: 1;
  remote: string;
  files: Record<string, FileRecord>;
  /** Aggregate batch keys already merged into the local union (or shipped from here). */
  merged: Record<string, 1>;
  /**
   * Keys a push had started writing and not yet recorded. A rerun after an interrupted push
   * rewrites these even when the remote holds other bytes: a server that crashed mid-write
   * (s3rver writes objects in place) may hold a torn copy of our own write.
   */
  inflight?: Record<string, 1>;
  /** Where the last pull stopped reading a remote's change feeds (Worker mode). */
  cursors?: { feed?: string; aggregate?: string };
}

/** A content hash of bytes (also how the manifest compares files). */
export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

export function manifestFile(stateDir: string, remoteUrl: string): string {
  const id = createHash('sha256').update(remoteUrl).digest('hex').slice(0, 16);
  return path.join(stateDir, State.internal(`sync/${id}.json`));
}

/** Loads the manifest for `remoteUrl`; a fresh one when there is none (everything counts as changed). */
export async function loadManifest(stateDir: string, remoteUrl: string): Promise<Manifest> {
  const file = manifestFile(stateDir, remoteUrl);
  const text = await readTextFile(file);
  const m = text === undefined ? undefined : parseJsonText<Manifest>(file, text);
  if (m && m.v === 1 && m.remote === remoteUrl && m.files && m.merged) {
    asSaved.set(m, text!);
    return m;
  }
  return { v: 1, remote: remoteUrl, files: {}, merged: {} };
}

/** A loaded manifest's text on disk, as saveManifest would write it when nothing changed. */
const asSaved = new WeakMap<Manifest, string>();

/**
 * Saves atomically: a kill at any instant leaves the old or the new manifest, never half of
 * one. One that has not changed since it was loaded or saved (a no-op sync) is not written.
 */
export async function saveManifest(stateDir: string, m: Manifest): Promise<void> {
  const text = JSON.stringify(m);
  if (asSaved.get(m) === text) return;
  await writeFileAtomic(manifestFile(stateDir, m.remote), text);
  asSaved.set(m, text);
}
