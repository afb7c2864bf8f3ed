import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlobStore } from '../../core/ports.ts';
import { EXAMPLE_PAGE, EXAMPLE_SKILL } from '../../domain/example-page.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId } from '../../domain/names.ts';
import { State } from '../../domain/state-layout.ts';
import { contentHash } from './manifest.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** Versions a page's history keeps, oldest dropped first: enough for any machine that was set up in the last few months. */
export const HISTORY_LIMIT = 64;

/** The example pages shipped with snappy (`state/skills/`), which new machines start from. */
const EXAMPLE_SKILLS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'state', 'skills');

interface PageHistory {
  v: 1;
  skill: string;
  /** Content hashes (manifest.ts `contentHash`) of earlier versions, oldest first. */
  hashes: string[];
}

/** `snappy-tenants/<t>/skills/<skill>.md` -> its history key, or null for any other key. */
export function historyKeyOf(pageKey: string): string | null {
  const m = /^snappy-tenants\/([0-9a-f]{12})\/skills\/(.+)\.md$/.exec(pageKey);
  return m ? Remote.tenantPageHistory(m[1]!, m[2]!) : null;
}

/** The hashes in a page's history; none when it has none or it is unreadable (then nothing is adopted on its word). */
export async function readHistory(remote: BlobStore, key: string): Promise<string[]> {
  const b = await remote.get(key);
  if (!b) return [];
  try {
    const h = JSON.parse(new TextDecoder().decode(b)) as PageHistory;
    return h?.v === 1 && Array.isArray(h.hashes) ? h.hashes.filter((x) => typeof x === 'string' && /^[0-9a-f]{32}$/.test(x)) : [];
  } catch {
    return [];
  }
}

/**
 * Adds the version a push is about to replace to the page's history, before the page is
 * written: whatever happens next, the history holds only versions the page really had. Two
 * machines adding at once may lose one entry, which costs a later `.incoming` at worst, never
 * an overwritten edit. A remote that refuses the write (an older Worker) loses only this.
 */
export async function rememberVersion(remote: BlobStore, pageKey: string, hash: string): Promise<void> {
  const key = historyKeyOf(pageKey);
  if (!key || !/^[0-9a-f]{32}$/.test(hash)) return;
  try {
    const hashes = await readHistory(remote, key);
    if (hashes.includes(hash)) return;
    const skill = pageKey.slice(pageKey.lastIndexOf('/') + 1, -'.md'.length);
    const next: PageHistory = { v: 1, skill, hashes: [...hashes, hash].slice(-HISTORY_LIMIT) };
    await remote.put(key, JSON.stringify(next), { contentType: 'application/json' });
  } catch {
    // The page itself is what matters; the history is a convenience for machines joining later.
  }
}

/**
 * Content hashes of versions of `skills/<skill>.md` that nobody wrote on this machine: the
 * versions the tenant's page had (its history on the remote), the staged and canonical pages of
 * the skill held here, and the example pages shipped with snappy (`state/skills/`, and the one
 * `snappy init` writes). A local page equal to one of these, with no sync record, is a copy
 * this machine started from, not a local edit.
 */
export async function sharedVersions(stateDir: string, skill: string, remote: BlobStore, tenant: string | undefined, retry: RetryPolicy): Promise<Set<string>> {
  const out = new Set<string>();
  const add = async (file: string) => {
    const b = await fs.readFile(file).catch(() => null);
    if (b) out.add(contentHash(b));
  };
  if (tenant) for (const h of await withRetry(() => readHistory(remote, Remote.tenantPageHistory(tenant, skill)), retry)) out.add(h);
  const staged = path.join(stateDir, State.stagingDir, skill);
  for (const rev of await fs.readdir(staged).catch(() => [] as string[])) if (isRevId(rev)) await add(path.join(stateDir, State.stagedPage(skill, rev)));
  await add(path.join(stateDir, State.canonicalDir(skill), `${skill}.md`));
  await add(path.join(EXAMPLE_SKILLS, `${skill}.md`));
  if (skill === EXAMPLE_SKILL) out.add(contentHash(Buffer.from(EXAMPLE_PAGE)));
  return out;
}
