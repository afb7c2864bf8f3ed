import { checkpoint } from '../../core/checkpoint.ts';
import type { PlanEntry } from '../../core/hooks.ts';
import { assertSafeKey, type BlobStore, type RemoteStore } from '../../core/ports.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { checkRev, stageRev } from '../../domain/staged-rev.ts';
import { isHardDenied } from '../../domain/state-layout.ts';
import { contentHash, type Manifest } from './manifest.ts';
import { Refusal, type LocalRead, type StateFiles } from './local.ts';
import { rememberVersion } from './page-versions.ts';
import { pushTarget, type Who } from './paths.ts';
import type { Progress } from './progress.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** What the upload did. */
export interface UploadResult {
  uploaded: number;
  bytes: number;
  /** Already on the remote with the same bytes (e.g. a rerun after a crash). */
  alreadyThere: number;
  refused: { path: string; reason: string }[];
  /** The remote holds a different version than the one we last synced: not overwritten. */
  conflicts: { path: string; key: string }[];
  failed: { path: string; key: string; message: string }[];
  /** Left in the queue when a transfer failed for good (the next push sends them). */
  notAttempted: number;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/**
 * Sends the plan's files. This is where bytes leave the machine, so the hard deny and the key
 * rules are checked here again, after every `beforePush` tap, and each file is read through
 * StateFiles (symlink and hard-link checks at read time). Pages and tenant files are written
 * only over the version this machine last saw (ifMatch), so another machine's newer page is
 * never silently replaced; staged revs are create-only.
 */
export interface UploadDeps {
  remote: RemoteStore;
  files: StateFiles;
  manifest: Manifest;
  who: Who;
  concurrency: number;
  retry: RetryPolicy;
  progress: Progress;
  onRecorded?: () => void;
  repair?: ReadonlySet<string>;
  /** Aborted by Ctrl-C: transfers in flight finish, nothing new starts. */
  signal?: AbortSignal;
}

export async function uploadPlan(entries: readonly PlanEntry[], deps: UploadDeps): Promise<UploadResult> {
  const { remote, files, manifest } = deps;
  const res: UploadResult = { uploaded: 0, bytes: 0, alreadyThere: 0, refused: [], conflicts: [], failed: [], notAttempted: 0 };
  if (!entries.length) return res;
  // Loaded only for a push with something to send: most have nothing.
  const { default: PQueue } = await import('p-queue');
  const queue = new PQueue({ concurrency: deps.concurrency });
  const seen = new Set<string>();
  const refuse = (e: PlanEntry | null | undefined, err: Refusal) => {
    res.refused.push({ path: err.rel, reason: err.reason });
    if (manifest.inflight && typeof e?.key === 'string') delete manifest.inflight[e.key];
  };
  const revs = new Map<string, PlanEntry[]>();
  for (const planned of entries) {
    // Checked before the dedupe, so a bad entry cannot shadow a good one with the same key.
    let e: PlanEntry;
    try {
      e = checkEntry(planned, deps.who);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      refuse(planned, err);
      deps.progress.tick(0);
      continue;
    }
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    const rev = e.kind === 'staged' ? revFolderOf(e.path) : null;
    if (rev) {
      const group = revs.get(rev);
      if (group) group.push(e);
      else revs.set(rev, [e]);
      continue;
    }
    queue.add(async () => {
      // Stopped (Ctrl-C): transfers in flight finish, the rest are left for the next push,
      // which finds them changed again. Never started, so nothing of theirs needs repair.
      if (deps.signal?.aborted) {
        res.notAttempted++;
        if (manifest.inflight) delete manifest.inflight[e.key];
        return;
      }
      try {
        const read = await files.readForUpload(e.path);
        if (!read) {
          if (manifest.inflight) delete manifest.inflight[e.key];
          return;
        }
        const hash = contentHash(read.bytes);
        const outcome = await withRetry(() => putOne(remote, e, read.bytes, manifest, deps.repair?.has(e.key) ?? false), deps.retry);
        if (manifest.inflight) delete manifest.inflight[e.key];
        if (outcome === 'conflict') {
          res.conflicts.push({ path: e.path, key: e.key });
          return;
        }
        if (outcome === 'same') res.alreadyThere++;
        else {
          res.uploaded++;
          res.bytes += read.bytes.length;
        }
        const etag = e.kind === 'page' || e.kind === 'file' ? (await withRetry(() => remote.head(e.key), deps.retry))?.etag : undefined;
        manifest.files[e.path] = { size: read.size, mtimeMs: read.mtimeMs, hash, key: e.key, ...(etag ? { etag } : {}), origin: manifest.files[e.path]?.origin === 'pull' && e.kind === 'staged' ? 'pull' : 'push' };
        deps.onRecorded?.();
        checkpoint('push:object');
      } catch (err) {
        if (err instanceof Refusal) refuse(e, err);
        else {
          res.failed.push({ path: e.path, key: e.key, message: (err as Error).message ?? String(err) });
          // Retries are spent: the remote is down or refusing. Stop instead of failing every file slowly.
          res.notAttempted += queue.size;
          queue.clear();
        }
      } finally {
        deps.progress.tick(e.size ?? 0);
      }
    });
  }
  for (const [folder, group] of revs) {
    queue.add(async () => {
      if (deps.signal?.aborted) {
        res.notAttempted += group.length;
        for (const e of group) if (manifest.inflight) delete manifest.inflight[e.key];
        return;
      }
      try {
        await stageGroup(folder, group, deps, res);
      } catch (err) {
        res.failed.push(...group.map((e) => ({ path: e.path, key: e.key, message: (err as Error).message ?? String(err) })));
        res.notAttempted += queue.size;
        queue.clear();
      } finally {
        for (const e of group) deps.progress.tick(e.size ?? 0);
      }
    });
  }
  await queue.onIdle();
  return res;
}

/** `staging/<skill>/<rev>/...` -> `staging/<skill>/<rev>/`, else null. */
function revFolderOf(rel: string): string | null {
  const p = rel.split('/');
  return p.length >= 4 && p[0] === 'staging' && isSkillName(p[1]) && isRevId(p[2]) ? `staging/${p[1]}/${p[2]}/` : null;
}

/**
 * Stages one rev whole, in one call: through the remote's own `stageRev` (the Worker checks it
 * and writes it) or, on a plain bucket, the same checks and create-only writes done here. A rev
 * is frozen once staged: the same files again change nothing, other files are refused.
 */
async function stageGroup(folder: string, group: PlanEntry[], deps: UploadDeps, res: UploadResult): Promise<void> {
  const { remote, files, manifest } = deps;
  const [, skill, rev] = folder.split('/') as [string, string, string];
  const refuse = (reason: string) => {
    for (const e of group) {
      res.refused.push({ path: e.path, reason });
      if (manifest.inflight) delete manifest.inflight[e.key];
    }
  };
  // Every entry already passed checkEntry (hard deny, the layout's key).
  const reads: { e: PlanEntry; name: string; read: LocalRead }[] = [];
  for (const e of group) {
    let read: LocalRead | null;
    try {
      read = await files.readForUpload(e.path);
    } catch (err) {
      if (err instanceof Refusal) return refuse(`${err.rel} ${err.reason}`);
      throw err;
    }
    if (read) reads.push({ e, name: e.path.slice(folder.length), read });
  }
  if (!reads.length) return;
  const stageFiles = reads.map((r) => ({ name: r.name, bytes: r.read.bytes }));
  const bad = await checkRev(skill, rev, stageFiles);
  if (bad) return refuse(`rev ${skill}:${rev} not staged: ${bad}`);
  let created: boolean;
  if (remote.stageRev) created = (await withRetry(() => remote.stageRev!(skill, rev, stageFiles), deps.retry)).created;
  else {
    const r = await withRetry(() => stageRev(remote, skill, rev, stageFiles), deps.retry);
    if (!r.ok) return refuse(`rev ${skill}:${rev} not staged: ${r.reason}`);
    created = r.created;
  }
  for (const { e, read } of reads) {
    if (manifest.inflight) delete manifest.inflight[e.key];
    if (created) {
      res.uploaded++;
      res.bytes += read.bytes.length;
    } else res.alreadyThere++;
    manifest.files[e.path] = { size: read.size, mtimeMs: read.mtimeMs, hash: contentHash(read.bytes), key: e.key, origin: manifest.files[e.path]?.origin === 'pull' ? 'pull' : 'push' };
    deps.onRecorded?.();
    checkpoint('push:object');
  }
}

/**
 * The rules every plan entry meets after the last `beforePush` tap: its path is not under the
 * hard deny, and its key is exactly the one the remote layout gives that path on this machine.
 * A tap may add or drop entries, never choose keys: no canonical keys, no other tenant's keys,
 * no Worker bookkeeping. The entry that goes on carries the layout's kind and write rule.
 */
export function checkEntry(e: PlanEntry, who: Who): PlanEntry {
  if (!e || typeof e.path !== 'string') throw new Refusal(String(e?.path), 'is not a plan entry with a path');
  if (isHardDenied(e.path)) throw new Refusal(e.path, 'is under the hard deny: it never leaves this machine, whatever the plan says');
  if (typeof e.key !== 'string') throw new Refusal(e.path, 'its plan entry has no key');
  try {
    assertSafeKey(e.key);
  } catch (err) {
    throw new Refusal(e.path, (err as Error).message);
  }
  const target = pushTarget(e.path, who);
  if (!target) throw new Refusal(e.path, `has no key in the remote layout for this machine (plan entry key ${JSON.stringify(e.key)} refused)`);
  if (target.key !== e.key) throw new Refusal(e.path, `plan entry key ${JSON.stringify(e.key)} is not the key the remote layout gives this path (${target.key}): a beforePush tap may add or drop entries, not choose their keys`);
  return { path: e.path, key: target.key, kind: target.kind, ...(e.size !== undefined ? { size: e.size } : {}), ...(target.createOnly ? { createOnly: true } : {}) };
}

/** One write with the rule for its kind: 'put' (written), 'same' (already there), 'conflict'. */
async function putOne(remote: BlobStore, e: PlanEntry, bytes: Uint8Array, manifest: Manifest, repair: boolean): Promise<'put' | 'same' | 'conflict'> {
  // A key in flight when the last push was interrupted may hold a torn copy of our own write,
  // which a server killed mid-write may not even answer for (s3rver: HTTP 500 on its HEAD):
  // then what is there cannot be checked, and ours is written over it (below).
  const unlessRepair = (err: unknown) => {
    if (!repair) throw err;
    return null;
  };
  let ok: boolean | null;
  if (e.kind === 'page' || e.kind === 'file') {
    const rec = manifest.files[e.path];
    const etag = rec && rec.key === e.key ? rec.etag : undefined;
    // The version this write replaces joins the page's history first (page-versions.ts).
    if (e.kind === 'page' && etag && rec?.hash && rec.hash !== contentHash(bytes)) await rememberVersion(remote, e.key, rec.hash);
    ok = await remote.put(e.key, bytes, etag ? { ifMatch: etag } : { ifAbsent: true }).catch(unlessRepair);
  } else if (e.createOnly) {
    ok = await remote.put(e.key, bytes, { ifAbsent: true }).catch(unlessRepair);
  } else {
    ok = await remote.put(e.key, bytes);
  }
  if (ok) return 'put';
  // Refused by a condition: ours already (a rerun after a crash), or someone else's version.
  const cur = await remote.get(e.key).catch(unlessRepair);
  if (cur && equalBytes(cur, bytes)) return 'same';
  if (repair) {
    // This key was in flight when the last push was interrupted: what is there may be a
    // torn copy of our own write. Write ours over it.
    await remote.put(e.key, bytes);
    return 'put';
  }
  return 'conflict';
}
