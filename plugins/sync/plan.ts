import { lstatSync, statSync } from 'node:fs';
import type { PlanEntry } from '../../core/hooks.ts';
import type { Manifest } from './manifest.ts';
import { contentHash } from './manifest.ts';
import { INCOMING_SUFFIX, pushTargetOfAllowed, type PushTarget, type SyncFilter, type Who } from './paths.ts';
import { Refusal, walkState, type StateFiles } from './local.ts';

/** What the scan found: the changed files (the plan) and what it skipped, with reasons. */
export interface ScanResult {
  entries: PlanEntry[];
  unchanged: number;
  /** Files whose content is unchanged but whose mtime moved: the manifest learns the new stat. */
  touched: { rel: string; size: number; mtimeMs: number }[];
  refused: { path: string; reason: string }[];
  /** Files with an unresolved `.incoming` copy beside them: not pushed until it is removed. */
  blocked: string[];
  /** Pages and tenant files left out because there is no tenant (no SNAPPY_MASTER_KEY): their keys need its id. */
  needTenant: string[];
}

/** Stands in for a tenant id to ask whether a file would push with one. */
const ANY_TENANT = '000000000000';

/**
 * Finds what changed since the last sync: stat every candidate, and hash only those whose size
 * or mtime differs from the manifest. Nothing here touches the remote.
 */
export async function scanChanges(files: StateFiles, filter: SyncFilter, who: Who, manifest: Manifest): Promise<ScanResult> {
  const all = await walkState(files.root);
  const res: ScanResult = { entries: [], unchanged: 0, touched: [], refused: [], blocked: [], needTenant: [] };
  // The fast path is synchronous, one pass and one stat per file, compared with the manifest.
  // Only files whose size or mtime moved are read and hashed.
  const suspects: { rel: string; key: string; kind: PushTarget['kind']; createOnly: boolean }[] = [];
  for (const rel of all) {
    if (!filter.allows(rel)) continue;
    const t = pushTargetOfAllowed(rel, who);
    if (!t) {
      if (!who.tenant && pushTargetOfAllowed(rel, { ...who, tenant: ANY_TENANT })) res.needTenant.push(rel);
      continue;
    }
    const rec = manifest.files[rel];
    if (t.kind === 'staged' && rec?.origin === 'pull') continue; // pulled from the fleet, not made here
    const abs = files.abs(rel);
    const st = statSync(abs, { throwIfNoEntry: false });
    if (!st || !st.isFile()) {
      if (!st && lstatSync(abs, { throwIfNoEntry: false })?.isSymbolicLink()) res.refused.push({ path: rel, reason: 'is a dangling symlink' });
      continue;
    }
    if (rec && rec.key === t.key && rec.size === st.size && rec.mtimeMs === st.mtimeMs) res.unchanged++;
    else suspects.push({ rel, key: t.key, kind: t.kind, createOnly: t.createOnly });
  }
  // Only a file that changed can be held back by an `.incoming` copy beside it.
  const present = suspects.length ? new Set(all) : new Set<string>();
  const CHUNK = 64;
  for (let i = 0; i < suspects.length; i += CHUNK) {
    await Promise.all(
      suspects.slice(i, i + CHUNK).map(async (c) => {
        const rec = manifest.files[c.rel];
        let read;
        try {
          read = await files.readForUpload(c.rel);
        } catch (err) {
          if (err instanceof Refusal) {
            res.refused.push({ path: c.rel, reason: err.reason });
            return;
          }
          throw err;
        }
        if (!read) return;
        if (rec && rec.key === c.key && rec.hash === contentHash(read.bytes)) {
          res.unchanged++;
          res.touched.push({ rel: c.rel, size: read.size, mtimeMs: read.mtimeMs });
          return;
        }
        if (present.has(c.rel + INCOMING_SUFFIX)) {
          res.blocked.push(c.rel);
          return;
        }
        res.entries.push({ path: c.rel, key: c.key, kind: c.kind, size: read.size, ...(c.createOnly ? { createOnly: true } : {}) });
      }),
    );
  }
  res.entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return res;
}
