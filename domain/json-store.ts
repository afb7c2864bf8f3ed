import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';

/** True when `err` says a stored object was unreadable or malformed (E_MALFORMED). */
export function isMalformed(err: unknown): err is SnappyError {
  return err instanceof SnappyError && err.code === ErrorCode.Malformed;
}

/** For `.catch`: a malformed record reads as none; any other failure (the network, the store) stays one. */
export function nullIfMalformed(err: unknown): Promise<never> | null {
  return isMalformed(err) ? null : Promise.reject(err);
}

/**
 * Reads a JSON object. A body that does not parse (or fails `check`) is read once more before
 * it counts as malformed: s3rver can serve a half-written object to a concurrent read. Then it
 * throws E_MALFORMED naming the key, which callers report and skip, so one bad object never
 * stops a tick.
 */
export async function readJson<T>(blobs: BlobStore, key: string, check?: (v: unknown) => boolean): Promise<T | null> {
  let reason = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    const b = await blobs.get(key);
    if (!b) return null;
    try {
      const v = JSON.parse(new TextDecoder().decode(b)) as unknown;
      if (check && !check(v)) {
        reason = 'not the object expected there';
        continue;
      }
      return v as T;
    } catch (err) {
      reason = `not valid JSON (${(err as Error).message})`;
    }
  }
  throw new SnappyError(`${blobs.url} ${key}: ${reason}`, { code: ErrorCode.Malformed, details: { key } });
}

/**
 * Read-modify-write of a JSON object with a compare-and-swap (create-only when absent, else
 * `ifMatch` on the etag read first), retried on conflict. `update` returns null for "no
 * change". Used only for objects that grow monotonically (tallies, the scan state), where
 * reading the etag before the body is safe: content never returns to an older etag.
 */
export async function updateJson<T>(blobs: BlobStore, key: string, init: () => T, update: (cur: T) => T | null, opts: { tries?: number; check?: (v: unknown) => boolean } = {}): Promise<T> {
  const tries = opts.tries ?? 30;
  for (let i = 0; i < tries; i++) {
    const info = await blobs.head(key);
    if (!info) {
      const next = update(init());
      if (next === null) return init();
      if (await blobs.put(key, JSON.stringify(next), { ifAbsent: true, contentType: 'application/json' })) return next;
    } else {
      const cur = await readJson<T>(blobs, key, opts.check);
      if (cur !== null) {
        const next = update(cur);
        if (next === null) return cur;
        if (await blobs.put(key, JSON.stringify(next), { ifMatch: info.etag ?? '', contentType: 'application/json' })) return next;
      }
    }
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** i)));
  }
  throw new SnappyError(`${blobs.url} ${key}: kept changing under concurrent writers (${tries} tries)`, { code: ErrorCode.Conflict, status: 409 });
}
