import type { BlobStore, KV } from '../core/ports.ts';

/**
 * A KV kept as objects under `snappy-kv/` of a blob store: the file and S3 remotes' stand-in
 * for Cloudflare KV, so `snappy run tick` works with no cloud. Keys are URI-encoded.
 */
export class BlobKV implements KV {
  constructor(
    private readonly blobs: BlobStore,
    private readonly prefix = 'snappy-kv/',
  ) {}

  private key(k: string): string {
    return this.prefix + encodeURIComponent(k).replace(/\./g, '%2E');
  }

  async get(key: string): Promise<string | null> {
    const b = await this.blobs.get(this.key(key));
    return b ? new TextDecoder().decode(b) : null;
  }

  async put(key: string, value: string): Promise<void> {
    await this.blobs.put(this.key(key), value);
  }

  async delete(key: string): Promise<void> {
    await this.blobs.delete(this.key(key));
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const o of this.blobs.list(this.key(prefix))) out.push(decodeURIComponent(o.key.slice(this.prefix.length)));
    return out;
  }
}
