import type { BlobStore } from '../../core/ports.ts';
import { revIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { checkRev, manifestOf, readManifest, sha256, type RevFile, type RevManifest } from '../../domain/staged-rev.ts';
import { isMalformed, readJson } from '../../domain/json-store.ts';

/** A rev the tick will never promote, and why. `snappy-quorum/quarantine/<skill>/<rev>.json`. */
export interface Quarantine {
  ts: string;
  skill: string;
  rev: string;
  reason: string;
}

/** What verification found: the exact bytes to promote, or why not. */
export type Verified =
  | { ok: true; files: RevFile[]; manifest: RevManifest }
  /** `incomplete`: a file of the manifest is not there (yet): wait, do not quarantine. */
  | { ok: false; reason: string; incomplete?: boolean };

/**
 * Checks a staged rev against its frozen manifest: every file the manifest names is there and
 * hashes to what it says, and the page hashes to the rev id. A rev staged without a manifest (a
 * direct-mode push of an older release) gets one now, from its files as they are, once the page
 * is checked: from then on it is frozen. A file that does not match is read once more (a torn
 * read) before the rev fails. Files in the folder that the manifest does not name are ignored:
 * promotion copies the manifest's files and no others.
 */
export async function verifyStagedRev(blobs: BlobStore, skill: string, rev: string): Promise<Verified> {
  let manifest: RevManifest | null;
  try {
    manifest = await readManifest(blobs, skill, rev);
  } catch (err) {
    if (isMalformed(err)) return { ok: false, reason: `its manifest ${Remote.manifest(skill, rev)} is malformed` };
    throw err;
  }
  if (!manifest) {
    const files: RevFile[] = [];
    const dir = Remote.stagedDir(skill, rev);
    for await (const o of blobs.list(dir)) {
      const bytes = await blobs.get(o.key);
      if (bytes) files.push({ name: o.key.slice(dir.length), bytes });
    }
    if (!files.length) return { ok: false, reason: 'nothing staged', incomplete: true };
    const bad = await checkRev(skill, rev, files);
    if (bad) return { ok: false, reason: bad };
    const fresh = await manifestOf(skill, rev, files);
    if (await blobs.put(Remote.manifest(skill, rev), JSON.stringify(fresh), { ifAbsent: true, contentType: 'application/json' })) return { ok: true, files, manifest: fresh };
    // Someone froze it first: verify against theirs.
    return verifyStagedRev(blobs, skill, rev);
  }
  const page = `${skill}.md`;
  if (!(page in manifest.files)) return { ok: false, reason: `its manifest names no page ${page}` };
  const files: RevFile[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    const key = Remote.staged(skill, rev, name);
    let bytes: Uint8Array | null = null;
    let got = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      bytes = await blobs.get(key);
      if (!bytes) break;
      got = await sha256(bytes);
      if (got === want) break;
    }
    if (!bytes) return { ok: false, reason: `${name} of the manifest is not staged`, incomplete: true };
    if (got !== want) return { ok: false, reason: `${name} no longer matches its manifest (sha256 ${got.slice(0, 12)}…, endorsed ${want.slice(0, 12)}…): the staged bytes were changed after staging` };
    files.push({ name, bytes });
  }
  const id = await revIdOf(files.find((f) => f.name === page)!.bytes);
  if (id !== rev) return { ok: false, reason: `${page} hashes to ${id}, not to the rev id ${rev}` };
  return { ok: true, files, manifest };
}

/** Quarantines a rev, once (create-only): the first reason stays. Returns the record that holds. */
export async function quarantineRev(blobs: BlobStore, skill: string, rev: string, reason: string, now = Date.now()): Promise<Quarantine> {
  const rec: Quarantine = { ts: new Date(now).toISOString(), skill, rev, reason };
  if (await blobs.put(Remote.quarantine(skill, rev), JSON.stringify(rec), { ifAbsent: true, contentType: 'application/json' })) return rec;
  return (await quarantineOf(blobs, skill, rev)) ?? rec;
}

export async function quarantineOf(blobs: BlobStore, skill: string, rev: string): Promise<Quarantine | null> {
  try {
    return await readJson<Quarantine>(blobs, Remote.quarantine(skill, rev));
  } catch (err) {
    // A marker that is there but unreadable still means quarantined.
    if (isMalformed(err)) return { ts: '', skill, rev, reason: 'quarantined (its record is unreadable)' };
    throw err;
  }
}
