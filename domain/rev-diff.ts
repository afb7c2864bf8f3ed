import type { BlobStore } from '../core/ports.ts';
import { unifiedDiff } from './diff.ts';
import { parsePage } from './frontmatter.ts';
import { revIdOf, sha256Hex } from './hash.ts';
import { Remote } from './layout.ts';
import { assertSkillName, isRevId } from './names.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/** One file of a rev against the canonical file of the same name. */
export interface FileDiff {
  name: string;
  change: 'added' | 'removed' | 'changed' | 'same';
  /** Unified diff (`--- canonical/...` / `+++ staged/...`); empty when the file is the same. */
  diff: string;
}

/** A staged rev against the canonical folder it would replace (docs/operate.md "Approve"). */
export interface RevDiff {
  skill: string;
  rev: string;
  /**
   * Names exactly this comparison: SHA-256 over the canonical and the staged files' names and
   * hashes (first 16 hex). An approval that names it promotes only if canonical and the rev
   * still are what the operator looked at.
   */
  diffId: string;
  /** The rev id of the canonical page now, or null when the skill has no canonical page yet. */
  canonicalRev: string | null;
  files: FileDiff[];
  /** Frontmatter keys of the page that the rev adds, removes or changes (the page's instructions' settings). */
  frontmatter: { key: string; change: 'added' | 'removed' | 'changed'; from?: unknown; to?: unknown }[];
  /** Every file's diff in one text, canonical first. */
  text: string;
}

async function folder(blobs: BlobStore, prefix: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const o of blobs.list(prefix)) {
    const b = await blobs.get(o.key);
    if (b) out.set(o.key.slice(prefix.length), b);
  }
  return out;
}

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : '');

/** The diff of staged rev `skill:rev` against `snappy-os/skills/<skill>/` as it is now. */
export async function revDiff(blobs: BlobStore, skill: string, rev: string): Promise<RevDiff> {
  assertSkillName(skill, 'skill');
  if (!isRevId(rev)) throw new SnappyError(`rev id ${JSON.stringify(rev)} is not 12 lower-case hex characters`, { code: ErrorCode.Invalid, status: 400 });
  const [canonical, staged] = await Promise.all([folder(blobs, Remote.canonicalDir(skill)), folder(blobs, Remote.stagedDir(skill, rev))]);
  if (!staged.size) throw new SnappyError(`no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`, { code: ErrorCode.NotFound, status: 404 });
  const names = [...new Set([...canonical.keys(), ...staged.keys()])].sort((a, b) => (a === `${skill}.md` ? -1 : b === `${skill}.md` ? 1 : a < b ? -1 : 1));
  const files: FileDiff[] = [];
  const parts: string[] = [];
  for (const name of names) {
    const was = canonical.get(name);
    const now = staged.get(name);
    const change = !was ? 'added' : !now ? 'removed' : text(was) === text(now) ? 'same' : 'changed';
    const diff = change === 'same' ? '' : unifiedDiff(text(was), text(now), was ? `canonical/${skill}/${name}` : '/dev/null', now ? `staged/${skill}/${rev}/${name}` : '/dev/null');
    files.push({ name, change, diff });
    if (diff) parts.push(diff);
  }
  const page = `${skill}.md`;
  const canonicalPage = canonical.get(page);
  return {
    skill,
    rev,
    diffId: await diffIdOf(canonical, staged),
    canonicalRev: canonicalPage ? await revIdOf(canonicalPage) : null,
    files,
    frontmatter: frontmatterChanges(text(canonicalPage), text(staged.get(page))),
    text: parts.join(''),
  };
}

async function diffIdOf(canonical: Map<string, Uint8Array>, staged: Map<string, Uint8Array>): Promise<string> {
  const side = async (m: Map<string, Uint8Array>) => (await Promise.all([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(async ([n, b]) => `${n}:${await sha256Hex(b)}`))).join('\n');
  return (await sha256Hex(`canonical\n${await side(canonical)}\nstaged\n${await side(staged)}`)).slice(0, 16);
}

function frontmatterChanges(before: string, after: string): RevDiff['frontmatter'] {
  const a = parsePage(before).data;
  const b = parsePage(after).data;
  const out: RevDiff['frontmatter'] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (!(key in a)) out.push({ key, change: 'added', to: b[key] });
    else if (!(key in b)) out.push({ key, change: 'removed', from: a[key] });
    else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push({ key, change: 'changed', from: a[key], to: b[key] });
  }
  return out;
}
