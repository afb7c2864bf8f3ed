import type { BlobStore } from '../../core/ports.ts';

export async function readJson<T>(blobs: BlobStore, key: string): Promise<T | null> {
  const b = await blobs.get(key);
  if (!b) return null;
  try {
    return JSON.parse(new TextDecoder().decode(b)) as T;
  } catch (err) {
    throw new Error(`${blobs.url} ${key}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Read-modify-write of a JSON object with a compare-and-swap (create-only when absent, else
 * `ifMatch` on the etag read first), retried on conflict. `update` returns null for "no
 * change". Used only for objects that grow monotonically (tallies, the scan state), where
 * reading the etag before the body is safe: content never returns to an older etag.
 */
export async function updateJson<T>(blobs: BlobStore, key: string, init: () => T, update: (cur: T) => T | null, tries = 30): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const info = await blobs.head(key);
    if (!info) {
      const next = update(init());
      if (next === null) return init();
      if (await blobs.put(key, JSON.stringify(next), { ifAbsent: true, contentType: 'application/json' })) return next;
    } else {
      const cur = await readJson<T>(blobs, key);
      if (cur !== null) {
        const next = update(cur);
        if (next === null) return cur;
        if (await blobs.put(key, JSON.stringify(next), { ifMatch: info.etag ?? '', contentType: 'application/json' })) return next;
      }
    }
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** i)));
  }
  throw new Error(`${blobs.url} ${key}: kept changing under concurrent writers (${tries} tries)`);
}
