import { checkpoint } from '../../core/checkpoint.ts';
import type { BlobStore } from '../../core/ports.ts';
import { appendFeed } from '../../domain/feed.ts';
import { revIdOf } from '../../domain/hash.ts';
import { isMalformed } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { readManifest, sha256, type RevFile } from '../../domain/staged-rev.ts';

/**
 * Makes `snappy-os/skills/<skill>/` exactly `files` (none: the skill's canonical is withdrawn):
 * each file written, then every other file removed, then the change feed told so that tenants
 * pulling through the Worker list the folder again. Idempotent: a rerun after a kill writes the
 * same bytes. `point` names the checkpoint passed after each file.
 */
export async function writeCanonical(blobs: BlobStore, skill: string, files: readonly RevFile[], point: string): Promise<string[]> {
  const dir = Remote.canonicalDir(skill);
  for (const f of files) {
    await blobs.put(dir + f.name, f.bytes);
    checkpoint(point);
  }
  const keep = new Set(files.map((f) => f.name));
  for await (const o of blobs.list(dir)) if (!keep.has(o.key.slice(dir.length))) await blobs.delete(o.key);
  await appendFeed(blobs, { kind: 'canonical', folder: dir });
  return files.map((f) => f.name);
}

/** The files of a promoted rev, byte for byte as endorsed, or why they cannot be had. */
export type Restorable = { ok: true; files: RevFile[] } | { ok: false; reason: string };

/**
 * Reads back the files of a rev promoted earlier, to restore it: every file its frozen manifest
 * names (a promotion always has one) must be staged still and hash to what the manifest says,
 * and the page to the rev id. Nothing is written here: a rev that once was canonical is never
 * quarantined after the fact, and a restore that cannot be exact is refused instead.
 */
export async function restorableRev(blobs: BlobStore, skill: string, rev: string): Promise<Restorable> {
  let manifest;
  try {
    manifest = await readManifest(blobs, skill, rev);
  } catch (err) {
    if (!isMalformed(err)) throw err;
    return { ok: false, reason: `its manifest ${Remote.manifest(skill, rev)} is malformed` };
  }
  if (!manifest) return { ok: false, reason: `it has no manifest (${Remote.manifest(skill, rev)}), so its bytes cannot be checked` };
  const page = `${skill}.md`;
  if (!(page in manifest.files)) return { ok: false, reason: `its manifest names no page ${page}` };
  const files: RevFile[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    const bytes = await blobs.get(Remote.staged(skill, rev, name));
    if (!bytes) return { ok: false, reason: `${name} of its manifest is no longer staged (${Remote.staged(skill, rev, name)})` };
    const got = await sha256(bytes);
    if (got !== want) return { ok: false, reason: `${name} no longer matches its manifest (sha256 ${got.slice(0, 12)}…, promoted ${want.slice(0, 12)}…)` };
    files.push({ name, bytes });
  }
  const id = await revIdOf(files.find((f) => f.name === page)!.bytes);
  if (id !== rev) return { ok: false, reason: `${page} hashes to ${id}, not to the rev id ${rev}` };
  return { ok: true, files };
}
