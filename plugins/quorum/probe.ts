import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { BlobStore, Logger } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';

/** What the probe found about a store's conditional writes. */
export interface ProbeResult {
  enforced: boolean;
  /** Which condition the store ignored, when one was. */
  failed?: 'create-only' | 'if-match';
}

const cache = new WeakMap<BlobStore, Promise<ProbeResult>>();

/**
 * Asks the store whether it enforces the two conditions exactly-once rests on: a second
 * create-only write of a key, and a write with a stale `If-Match`, must both be refused. R2, S3
 * and the file remote refuse them; s3rver accepts both. Probed once per store object (a process,
 * or a Worker isolate), with a key of its own that is deleted afterwards.
 */
export function probeConditionalWrites(blobs: BlobStore): Promise<ProbeResult> {
  let p = cache.get(blobs);
  if (!p) {
    p = run(blobs);
    cache.set(blobs, p);
  }
  return p;
}

async function run(blobs: BlobStore): Promise<ProbeResult> {
  const id = [...crypto.getRandomValues(new Uint8Array(8))].map((x) => x.toString(16).padStart(2, '0')).join('');
  const key = `${Remote.quorumPrefix}probe/${id}`;
  // The server's own answer: a client-side check (a HEAD before the PUT) narrows a race but cannot close it.
  const put = blobs.putUnchecked ? blobs.putUnchecked.bind(blobs) : blobs.put.bind(blobs);
  try {
    if (!(await put(key, 'one', { ifAbsent: true }))) return { enforced: false, failed: 'create-only' };
    if (await put(key, 'two', { ifAbsent: true })) return { enforced: false, failed: 'create-only' };
    if (await put(key, 'three', { ifMatch: 'snappy-probe-stale-etag' })) return { enforced: false, failed: 'if-match' };
    return { enforced: true };
  } finally {
    await blobs.delete(key).catch(() => {});
  }
}

/**
 * Refuses to go on where exactly-once cannot hold: on a store that ignores conditional writes,
 * the tick and promotion are refused (E_BACKEND, naming the store), unless the operator declared
 * in config that one tick runner is the only writer (`quorum.singleWriter`); then it warns, every
 * time, and goes on.
 */
export async function assertExactlyOnce(blobs: BlobStore, singleWriter: boolean, log: Logger): Promise<void> {
  const r = await probeConditionalWrites(blobs);
  if (r.enforced) return;
  const what = r.failed === 'create-only' ? 'a second create-only write (If-None-Match: *) was accepted' : 'a write with a stale If-Match was accepted';
  if (singleWriter) {
    log.warn(`${blobs.url} does not enforce conditional writes (${what}); going on because config quorum.singleWriter declares this tick runner the only writer: two at once could promote twice`);
    return;
  }
  throw new SnappyError(
    `${blobs.url} does not enforce conditional writes (${what}), so promotion cannot be exactly once here. Use a store that does (R2, S3, a file:// remote), or declare in config that one tick runner is the only writer: quorum: { singleWriter: true } (docs/worker.md "Exactly once on every backend")`,
    { code: ErrorCode.Backend, details: { store: blobs.url, failed: r.failed } },
  );
}
