import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { assertSafeKey, toBytes, type BlobInfo, type BlobStore, type PutOptions } from '../core/ports.ts';

/** How to reach a bucket. Unset fields come from the usual AWS_* variables. */
export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing `/` needed). */
  prefix?: string;
  /** S3-compatible endpoint (else AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL). */
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style URLs (bucket in the path). Default: on whenever an endpoint is set. */
  forcePathStyle?: boolean;
  /** ListObjectsV2 page size (S3's maximum and default: 1000). */
  pageSize?: number;
  /** Attempts the SDK makes per request before an error surfaces (default 3). */
  maxAttempts?: number;
  /** Environment to read AWS_* from (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Gives the caller the client before first use, e.g. to add counting middleware. */
  onClient?: (client: S3Client) => void;
}

/**
 * A BlobStore on S3 or an S3-compatible server (R2, s3rver, MinIO).
 *
 * Create-only writes send `If-None-Match: *`, which S3 (since 2024) and R2 enforce atomically.
 * s3rver ignores conditional headers, so the adapter also HEADs first: against s3rver two
 * writers racing between that HEAD and their PUT could both "win" (the later write replaces
 * the earlier); against S3/R2 the server refuses the second. `ifMatch` works the same way
 * with `If-Match`.
 */
export class S3BlobStore implements BlobStore {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number;

  constructor(opts: S3BlobStoreOptions) {
    if (!opts || typeof opts.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(opts.bucket)) {
      throw new SnappyError(`s3 remote: bucket name ${JSON.stringify(opts?.bucket)} is invalid (3-63 of a-z 0-9 . -)`, { code: ErrorCode.Usage });
    }
    const env = opts.env ?? process.env;
    this.bucket = opts.bucket;
    const p = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (p) assertSafeKey(p);
    this.prefix = p ? `${p}/` : '';
    this.url = `s3://${this.bucket}${p ? `/${p}` : ''}`;
    this.pageSize = Math.max(1, Math.min(1000, opts.pageSize ?? 1000));
    const endpoint = opts.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
    const region = opts.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1');
    const config: S3ClientConfig = {
      region,
      forcePathStyle: opts.forcePathStyle ?? !!endpoint,
      // Without these the SDK streams bodies with aws-chunked framing, which s3rver stores verbatim.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: opts.maxAttempts ?? 3,
      ...(endpoint ? { endpoint } : {}),
    };
    const accessKeyId = opts.accessKeyId ?? env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = opts.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY;
    if (accessKeyId && secretAccessKey) {
      const sessionToken = opts.sessionToken ?? (opts.accessKeyId ? undefined : env.AWS_SESSION_TOKEN);
      config.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
    }
    this.client = new S3Client(config);
    opts.onClient?.(this.client);
  }

  private full(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      if (!res.Body) return new Uint8Array();
      return await res.Body.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('get', key, err);
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return { key, size: res.ContentLength ?? 0, ...(res.ETag ? { etag: res.ETag } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('head', key, err);
    }
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    if (opts.ifAbsent || opts.ifMatch !== undefined) {
      // Servers that ignore conditional headers (s3rver) still get the check, up to a race.
      const cur = await this.head(key);
      if (opts.ifAbsent && cur) return false;
      if (opts.ifMatch !== undefined && (!cur || !sameEtag(cur.etag, opts.ifMatch))) return false;
    }
    return this.putUnchecked(key, body, opts);
  }

  /** The PUT with the conditional headers alone: whether they hold is the server's word. */
  async putUnchecked(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    const full = this.full(key);
    const bytes = toBytes(body);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: full,
          Body: bytes,
          ContentLength: bytes.length,
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}),
          ...(opts.ifMatch !== undefined ? { IfMatch: opts.ifMatch } : {}),
        }),
      );
      return true;
    } catch (err) {
      const status = statusOf(err);
      if ((opts.ifAbsent || opts.ifMatch !== undefined) && (status === 412 || status === 409)) return false;
      throw this.fail('put', key, err);
    }
  }

  async *list(prefix: string, opts: { startAfter?: string } = {}): AsyncIterable<BlobInfo> {
    if (prefix) assertSafePrefix(prefix);
    // Pages chain through StartAfter (the last key seen), not continuation tokens: simpler to
    // resume and the same on every S3-compatible server.
    let after = opts.startAfter !== undefined ? this.prefix + opts.startAfter : undefined;
    for (;;) {
      let res;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, MaxKeys: this.pageSize, ...(after !== undefined ? { StartAfter: after } : {}) }),
        );
      } catch (err) {
        throw this.fail('list', prefix || '(all)', err);
      }
      const items = res.Contents ?? [];
      for (const o of items) {
        if (!o.Key || !o.Key.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, ...(o.ETag ? { etag: o.ETag } : {}) };
      }
      const last = items[items.length - 1]?.Key;
      if (!res.IsTruncated || !last) return;
      after = last;
    }
  }

  async copy(from: string, to: string): Promise<void> {
    const src = this.full(from);
    try {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: this.full(to), CopySource: `${this.bucket}/${src.split('/').map(encodeURIComponent).join('/')}` }),
      );
    } catch (err) {
      throw this.fail('copy', `${from} -> ${to}`, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.fail('delete', key, err);
    }
  }

  /** Releases the client's sockets (tests and short-lived tools). */
  destroy(): void {
    this.client.destroy();
  }

  private fail(op: string, key: string, err: unknown): SnappyError {
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    const why = [e?.name && e.name !== 'Error' ? e.name : undefined, e?.code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
    const msg = (e?.message || String(err)).split('\n')[0];
    return new SnappyError(`S3 ${op} of "${key}" in ${this.url} failed: ${msg}${why ? ` (${why})` : ''}`, {
      code: ErrorCode.Remote,
      details: { op, key, remote: this.url, status },
      cause: err,
    });
  }
}

function assertSafePrefix(prefix: string): void {
  // A list prefix may end in `/` or be a partial name; check it as a key without the trailing slash.
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p) assertSafeKey(p);
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

function sameEtag(a: string | undefined, b: string): boolean {
  const strip = (s: string) => s.replace(/^W\//, '').replace(/^"|"$/g, '');
  return a !== undefined && strip(a) === strip(b);
}
