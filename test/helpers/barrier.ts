import type { BlobStore } from '../../core/ports.ts';

/** A barrier for `n` callers: each call waits until all `n` have called, then all go on together. */
export function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return () => {
    if (++arrived === n) release();
    return all;
  };
}

/** `inner`, except that a write to a key under `prefix` first waits at `wait` (a barrier). */
export function gatedWrites(inner: BlobStore, prefix: string, wait: () => Promise<void>): BlobStore {
  return {
    url: inner.url,
    get: (k) => inner.get(k),
    put: async (k, body, opts) => {
      if (k.startsWith(prefix)) await wait();
      return inner.put(k, body, opts);
    },
    head: (k) => inner.head(k),
    list: (p, o) => inner.list(p, o),
    copy: (a, b) => inner.copy(a, b),
    delete: (k) => inner.delete(k),
  };
}
