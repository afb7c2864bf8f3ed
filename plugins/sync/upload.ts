import PQueue from 'p-queue';
import type { PlanEntry } from '../../core/hooks.ts';
import { assertSafeKey, type BlobStore } from '../../core/ports.ts';
import { isHardDenied } from '../../domain/state-layout.ts';
import { contentHash, type Manifest } from './manifest.ts';
import { Refusal, type StateFiles } from './local.ts';
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
export async function uploadPlan(
  entries: readonly PlanEntry[],
  deps: { remote: BlobStore; files: StateFiles; manifest: Manifest; concurrency: number; retry: RetryPolicy; progress: Progress; onRecorded?: () => void; repair?: ReadonlySet<string>; signal?: AbortSignal },
): Promise<UploadResult> {
  const { remote, files, manifest } = deps;
  const res: UploadResult = { uploaded: 0, bytes: 0, alreadyThere: 0, refused: [], conflicts: [], failed: [], notAttempted: 0 };
  const queue = new PQueue({ concurrency: deps.concurrency });
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    queue.add(async () => {
      // Stopped (Ctrl-C): transfers in flight finish, the rest are left for the next push,
      // which finds them changed again. Never started, so nothing of theirs needs repair.
      if (deps.signal?.aborted) {
        res.notAttempted++;
        if (manifest.inflight) delete manifest.inflight[e.key];
        return;
      }
      try {
        if (typeof e.path !== 'string' || isHardDenied(e.path)) throw new Refusal(String(e.path), 'is under the hard deny: it never leaves this machine, whatever the plan says');
        try {
          assertSafeKey(e.key);
        } catch (err) {
          throw new Refusal(e.path, (err as Error).message);
        }
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
      } catch (err) {
        if (err instanceof Refusal) {
          res.refused.push({ path: err.rel, reason: err.reason });
          if (manifest.inflight) delete manifest.inflight[e.key];
        }
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
  await queue.onIdle();
  return res;
}

/** One write with the rule for its kind: 'put' (written), 'same' (already there), 'conflict'. */
async function putOne(remote: BlobStore, e: PlanEntry, bytes: Uint8Array, manifest: Manifest, repair: boolean): Promise<'put' | 'same' | 'conflict'> {
  let ok: boolean;
  if (e.kind === 'page' || e.kind === 'file') {
    const rec = manifest.files[e.path];
    const etag = rec && rec.key === e.key ? rec.etag : undefined;
    ok = await remote.put(e.key, bytes, etag ? { ifMatch: etag } : { ifAbsent: true });
  } else if (e.createOnly) {
    ok = await remote.put(e.key, bytes, { ifAbsent: true });
  } else {
    ok = await remote.put(e.key, bytes);
  }
  if (ok) return 'put';
  // Refused by a condition: ours already (a rerun after a crash), or someone else's version.
  const cur = await remote.get(e.key);
  if (cur && equalBytes(cur, bytes)) return 'same';
  if (repair) {
    // This key was in flight when the last push was interrupted: what is there may be a
    // torn copy of our own write. Write ours over it.
    await remote.put(e.key, bytes);
    return 'put';
  }
  return 'conflict';
}
