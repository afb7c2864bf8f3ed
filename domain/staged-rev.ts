import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';
import { hex, revIdOf } from './hash.ts';
import { Remote } from './layout.ts';
import { isRevId, isSkillName } from './names.ts';

/** One file of a staged rev: its name inside the rev's folder and its bytes. */
export interface RevFile {
  name: string;
  bytes: Uint8Array;
}

/** The frozen file manifest of a staged rev: promotion copies exactly these bytes. */
export interface RevManifest {
  v: 1;
  skill: string;
  rev: string;
  /** file name -> SHA-256 hex of its bytes. The manifest holds nothing else, so the same files always make the same bytes. */
  files: Record<string, string>;
}

/** Limits on one staged rev (the Worker refuses more). */
export const STAGE_LIMITS = { files: 64, bytes: 4 * 1024 * 1024 } as const;

/** A name inside a rev's folder: relative, no `.`/`..` segments, no leading dot files. */
const FILE_RE = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,127}\/){0,3}[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isRevFileName(name: unknown): name is string {
  return typeof name === 'string' && FILE_RE.test(name) && !name.split('/').some((s) => s === '.' || s === '..' || s.endsWith('.'));
}

/**
 * Checks a rev before it is staged: valid names, the page `<skill>.md` present and hashing to
 * the rev id, within the limits. Returns the reason it is refused, or null when it is good.
 */
export async function checkRev(skill: string, rev: string, files: readonly RevFile[]): Promise<string | null> {
  if (!isSkillName(skill)) return `skill ${JSON.stringify(skill)} is not a valid skill name`;
  if (!isRevId(rev)) return `rev id ${JSON.stringify(rev)} is not 12 lower-case hex characters`;
  if (files.length === 0) return 'a staged rev needs its page';
  if (files.length > STAGE_LIMITS.files) return `${files.length} files: at most ${STAGE_LIMITS.files} in one rev`;
  const total = files.reduce((n, f) => n + f.bytes.length, 0);
  if (total > STAGE_LIMITS.bytes) return `${total} bytes: at most ${STAGE_LIMITS.bytes} in one rev`;
  const seen = new Set<string>();
  for (const f of files) {
    if (!isRevFileName(f.name)) return `file name ${JSON.stringify(f.name)} is not allowed in a rev folder`;
    if (seen.has(f.name)) return `file ${f.name} appears twice`;
    seen.add(f.name);
  }
  const page = files.find((f) => f.name === `${skill}.md`);
  if (!page) return `the rev has no page ${skill}.md`;
  const id = await revIdOf(page.bytes);
  if (id !== rev) return `${skill}.md hashes to ${id}, not to the rev id ${rev}: a rev id is the first 12 hex of its page's SHA-256`;
  return null;
}

export async function manifestOf(skill: string, rev: string, files: readonly RevFile[]): Promise<RevManifest> {
  const out: Record<string, string> = {};
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) out[f.name] = await sha256(f.bytes);
  return { v: 1, skill, rev, files: out };
}

/** What staging did: `created` for a new rev; `same` when exactly these files were already staged. */
export type StageOutcome = { ok: true; created: boolean } | { ok: false; reason: string; conflict?: boolean };

/**
 * Stages a rev on a bucket: check it, write the manifest create-only (the rev's identity:
 * whoever writes it first fixes the file list), then every file create-only. A rerun after a
 * crash finishes the files; a different file list for a rev already staged is a conflict.
 * The Worker calls this for a tenant's `POST /v1/stage`; direct-mode pushes call it themselves.
 */
export async function stageRev(blobs: BlobStore, skill: string, rev: string, files: readonly RevFile[]): Promise<StageOutcome> {
  const bad = await checkRev(skill, rev, files);
  if (bad) return { ok: false, reason: bad };
  const manifest = await manifestOf(skill, rev, files);
  const created = await blobs.put(Remote.manifest(skill, rev), JSON.stringify(manifest), { ifAbsent: true, contentType: 'application/json' });
  if (!created) {
    const cur = await readManifest(blobs, skill, rev);
    if (cur && !sameFiles(cur.files, manifest.files)) return { ok: false, conflict: true, reason: `${skill}:${rev} is already staged with other files (${Object.keys(cur.files).join(', ')})` };
  }
  for (const f of files) {
    const key = Remote.staged(skill, rev, f.name);
    if (await blobs.put(key, f.bytes, { ifAbsent: true })) continue;
    // Already there: ours from an interrupted run, or a torn write. The manifest decides.
    const have = await blobs.get(key);
    if (!have || (await sha256(have)) !== manifest.files[f.name]) await blobs.put(key, f.bytes);
  }
  return { ok: true, created };
}

/** The manifest of a staged rev, or null when none was written (a rev staged by an older release). */
export async function readManifest(blobs: BlobStore, skill: string, rev: string): Promise<RevManifest | null> {
  const b = await blobs.get(Remote.manifest(skill, rev));
  if (!b) return null;
  try {
    const m = JSON.parse(new TextDecoder().decode(b)) as RevManifest;
    if (m && m.v === 1 && m.skill === skill && m.rev === rev && m.files && typeof m.files === 'object') return m;
  } catch {
    // fall through: a torn or forged manifest is treated as none
  }
  throw new SnappyError(`${blobs.url} ${Remote.manifest(skill, rev)}: not a valid rev manifest`, { code: ErrorCode.Malformed, details: { key: Remote.manifest(skill, rev) } });
}

function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}
