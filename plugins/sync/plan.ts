import { lstatSync, statSync } from 'node:fs';
import type { PlanEntry } from '../../core/hooks.ts';
import type { Manifest } from './manifest.ts';
import { contentHash } from './manifest.ts';
import { INCOMING_SUFFIX, pushTarget, type SyncFilter, type Who } from './paths.ts';
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
  const present = new Set(all);
  const res: ScanResult = { entries: [], unchanged: 0, touched: [], refused: [], blocked: [], needTenant: [] };
  const candidates = all.filter((rel) => filter.allows(rel)).flatMap((rel) => {
    const t = pushTarget(rel, who);
    if (!t && !who.tenant && pushTarget(rel, { ...who, tenant: ANY_TENANT })) res.needTenant.push(rel);
    return t ? [{ rel, ...t }] : [];
  });
  // The fast path is synchronous: stat against the manifest. Only files whose size or mtime
  // moved are read and hashed.
  const suspects: typeof candidates = [];
  for (const c of candidates) {
    const rec = manifest.files[c.rel];
    if (c.kind === 'staged' && rec?.origin === 'pull') continue; // pulled from the fleet, not made here
    const st = statSync(files.abs(c.rel), { throwIfNoEntry: false });
    if (!st || !st.isFile()) {
      if (!st && lstatSync(files.abs(c.rel), { throwIfNoEntry: false })?.isSymbolicLink()) res.refused.push({ path: c.rel, reason: 'is a dangling symlink' });
      continue;
    }
    if (rec && rec.key === c.key && rec.size === st.size && rec.mtimeMs === st.mtimeMs) res.unchanged++;
    else suspects.push(c);
  }
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
