import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
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
  /** Longest wait for a TCP connection, per attempt, ms (default 10000; Node only: workerd connects itself). */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the answer to a request, per attempt, ms: until the response starts, and
   * then between bytes of its body (default 30000).
   */
  timeoutMs?: number;
  /** How the keys were given, for the message of a refusal (default: the key id and its source). */
  keysFrom?: string;
  /** Environment to read AWS_* from (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Gives the caller the client before first use, e.g. to add counting middleware. */
  onClient?: (client: S3Client) => void;
}

/** Default connect timeout per attempt, ms (config `s3.connectTimeoutMs`). */
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 10_000;
/** Default answer timeout per attempt, ms (config `s3.timeoutMs`). */
export const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** Raised by the adapter's own deadline on a whole operation (all attempts). */
class DeadlineError extends Error {
  override name = 'TimeoutError';
}

/**
 * A BlobStore on S3 or an S3-compatible server (R2, s3rver, MinIO).
 *
 * Create-only writes send `If-None-Match: *`, which S3 (since 2024) and R2 enforce atomically.
 * s3rver ignores conditional headers, so the adapter also HEADs first: against s3rver two
 * writers racing between that HEAD and their PUT could both "win" (the later write replaces
 * the earlier); against S3/R2 the server refuses the second. `ifMatch` works the same way
 * with `If-Match`.
 *
 * No request waits forever: each attempt has a connect and an answer timeout, and each
 * operation a deadline over all its attempts, so a server that accepts connections and never
 * answers fails the operation in bounded time, naming the endpoint and the operation.
 */
export class S3BlobStore implements BlobStore {
  readonly url: string;
  readonly listsFromKey = true;
  /** Where requests go: the endpoint, or AWS S3 in a region. */
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  /** Where the keys came from, for the message of a refusal. */
  private readonly keysFrom: string;

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
    const ignoreConfigured = /^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '');
    const endpoint = opts.endpoint ?? (ignoreConfigured ? undefined : env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
    const region = opts.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1');
    this.endpoint = endpoint ?? `AWS S3 (${region})`;
    this.connectTimeoutMs = positive(opts.connectTimeoutMs, DEFAULT_S3_CONNECT_TIMEOUT_MS);
    this.timeoutMs = positive(opts.timeoutMs, DEFAULT_S3_TIMEOUT_MS);
    this.attempts = Math.max(1, opts.maxAttempts ?? 3);
    const config: S3ClientConfig = {
      region,
      forcePathStyle: opts.forcePathStyle ?? !!endpoint,
      // Without these the SDK streams bodies with aws-chunked framing, which s3rver stores verbatim.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: this.attempts,
      // Options of the SDK's Node handler (connect, answer, idle body) and of its fetch handler
      // in workerd (requestTimeout); without them a silent server is waited on forever.
      requestHandler: { connectionTimeout: this.connectTimeoutMs, requestTimeout: this.timeoutMs, throwOnRequestTimeout: true, socketTimeout: this.timeoutMs },
      ...(endpoint ? { endpoint } : {}),
    };
    const accessKeyId = opts.accessKeyId ?? env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = opts.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY;
    if (accessKeyId && secretAccessKey) {
      const sessionToken = opts.sessionToken ?? (opts.accessKeyId ? undefined : env.AWS_SESSION_TOKEN);
      config.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
      this.keysFrom = opts.keysFrom ?? (opts.accessKeyId ? `access key ${accessKeyId} (config s3.accessKeyId)` : `access key ${accessKeyId} (AWS_ACCESS_KEY_ID)`);
    } else {
      this.keysFrom = opts.keysFrom ?? `the keys of AWS profile "${env.AWS_PROFILE || 'default'}" or the SDK's default chain`;
    }
    this.client = new S3Client(config);
    opts.onClient?.(this.client);
  }

  private full(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  /**
   * One SDK call under a deadline over all its attempts. The SDK's own timeouts should end
   * each attempt first; the deadline holds even if one does not (a stalled body write, say).
   */
  private async send<O, T = O>(command: unknown, read: (res: O) => Promise<T> = async (r) => r as unknown as T): Promise<T> {
    const ac = new AbortController();
    // Every attempt may take its connect and answer timeouts; the SDK's backoff between
    // attempts stays well under a few seconds.
    const budget = this.attempts * (this.connectTimeoutMs + this.timeoutMs) + 5_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new DeadlineError(`no answer within ${budget} ms over ${this.attempts} attempt(s)`));
        ac.abort();
      }, budget);
    });
    try {
      return await Promise.race([(this.client.send(command as never, { abortSignal: ac.signal }) as Promise<O>).then(read), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await this.send<GetObjectCommandOutput, Uint8Array>(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), async (res) => (res.Body ? await res.Body.transformToByteArray() : new Uint8Array()));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail('get', key, err);
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const res = await this.send<HeadObjectCommandOutput>(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
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
      await this.send(
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
        res = await this.send<ListObjectsV2CommandOutput>(
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
      await this.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: this.full(to), CopySource: `${this.bucket}/${src.split('/').map(encodeURIComponent).join('/')}` }),
      );
    } catch (err) {
      throw this.fail('copy', `${from} -> ${to}`, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
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
    const e = err as { name?: string; code?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    const code = e?.Code ?? (e?.name && e.name !== 'Error' && e.name !== 'Unknown' ? e.name : undefined);
    let reason: string;
    // Final for the caller's own retries: the SDK has retried a timeout already, and keys,
    // clocks and policies do not mend themselves between attempts.
    let final = false;
    if (status === 403) {
      reason = this.refused(code);
      final = true;
    } else if (isTimeout(err)) {
      reason = this.silent(e?.message ?? '');
      final = true;
    } else {
      const why = [e?.name && e.name !== 'Error' ? e.name : undefined, e?.code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
      reason = `${(e?.message || String(err)).split('\n')[0]}${why ? ` (${why})` : ''} at ${this.endpoint}`;
    }
    const error = new SnappyError(`S3 ${op} of "${key}" in ${this.url} failed: ${reason}`, {
      code: ErrorCode.Remote,
      details: { op, key, remote: this.url, endpoint: this.endpoint, status },
      cause: err,
    });
    return final ? Object.assign(error, { retryable: false }) : error;
  }

  /** A 403, with what most likely causes it: S3 names the cause in the body, except on HEAD. */
  private refused(code: string | undefined): string {
    const head = `${this.endpoint} refused it (HTTP 403${code ? `, ${code}` : ''})`;
    switch (code) {
      case 'InvalidAccessKeyId':
        return `${head}: the server does not know ${this.keysFrom}`;
      case 'SignatureDoesNotMatch':
        return `${head}: the secret key does not belong to ${this.keysFrom}`;
      case 'RequestTimeTooSkewed':
        return `${head}: this machine's clock is too far off (requests are signed with the time; S3 allows 15 minutes)`;
      case 'AccessDenied':
        return `${head}: ${this.keysFrom} may not do this here (the keys' policy or the bucket policy of ${this.bucket} refuses it)`;
      default:
        return `${head}: wrong keys (${this.keysFrom}), a clock off by more than 15 minutes, or a bucket or key policy of ${this.bucket} that refuses it`;
    }
  }

  /** A timeout: the server accepted nothing, or answered nothing, in time. */
  private silent(message: string): string {
    if (/establish a connection/i.test(message)) return `no connection to ${this.endpoint} within ${this.connectTimeoutMs} ms (s3.connectTimeoutMs), ${this.attempts} attempt(s)`;
    return `no answer from ${this.endpoint} within ${this.timeoutMs} ms (s3.timeoutMs), ${this.attempts} attempt(s)`;
  }
}

function positive(v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT';
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
