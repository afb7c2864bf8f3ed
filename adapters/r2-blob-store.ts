import { assertSafeKey, type BlobInfo, type BlobStore, type PutOptions } from '../core/ports.ts';
import type { R2Bucket } from './workers-types.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/**
 * The bucket through a Worker's R2 binding. Conditional writes use R2's `onlyIf`: create-only
 * is `etagDoesNotMatch: '*'` (fails when any object exists) and compare-and-swap is
 * `etagMatches: <etag>`; R2 evaluates both atomically and returns null when they fail.
 */
export class R2BlobStore implements BlobStore {
  readonly url: string;
  readonly listsFromKey = true;
  private readonly prefix: string;

  constructor(
    private readonly bucket: R2Bucket,
    opts: { name?: string; prefix?: string } = {},
  ) {
    this.prefix = opts.prefix ? `${opts.prefix.replace(/\/+$/, '')}/` : '';
    this.url = `r2://${opts.name ?? 'bucket'}${this.prefix ? `/${this.prefix.slice(0, -1)}` : ''}`;
  }

  private k(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const o = await this.bucket.get(this.k(key));
    return o ? new Uint8Array(await o.arrayBuffer()) : null;
  }

  async head(key: string): Promise<BlobInfo | null> {
    const o = await this.bucket.head(this.k(key));
    return o ? { key, size: o.size, etag: o.etag } : null;
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    // R2 wants a bare etag here, without the quotes HTTP puts around one.
    const onlyIf = opts.ifAbsent ? { etagDoesNotMatch: '*' } : opts.ifMatch !== undefined ? { etagMatches: opts.ifMatch.replace(/^W\//, '').replace(/"/g, '') } : undefined;
    const res = await this.bucket.put(this.k(key), body, {
      ...(onlyIf ? { onlyIf } : {}),
      ...(opts.contentType ? { httpMetadata: { contentType: opts.contentType } } : {}),
    });
    return res !== null;
  }

  async *list(prefix: string, opts: { startAfter?: string } = {}): AsyncIterable<BlobInfo> {
    let cursor: string | undefined;
    const startAfter = opts.startAfter !== undefined ? this.prefix + opts.startAfter : undefined;
    do {
      const page = await this.bucket.list({ prefix: this.prefix + prefix, limit: 1000, ...(cursor ? { cursor } : startAfter !== undefined ? { startAfter } : {}) });
      for (const o of page.objects) yield { key: o.key.slice(this.prefix.length), size: o.size, etag: o.etag };
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  async copy(from: string, to: string): Promise<void> {
    const o = await this.bucket.get(this.k(from));
    if (!o) throw new SnappyError(`copy: no object at ${from} in ${this.url}`, { code: ErrorCode.NotFound, status: 404 });
    await this.bucket.put(this.k(to), await o.arrayBuffer());
  }

  async delete(key: string): Promise<void> {
    await this.bucket.delete(this.k(key));
  }
}
