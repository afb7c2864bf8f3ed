import { BlobKV } from '../adapters/blob-kv.ts';
import { KVBinding } from '../adapters/kv-binding.ts';
import { R2BlobStore } from '../adapters/r2-blob-store.ts';
import type { BlobStore, KV } from '../core/ports.ts';
import type { Env } from './env.ts';
// Resolved by worker/build.mjs to adapters/s3-blob-store.ts.
import { S3BlobStore } from 'snappy:s3-blob-store';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/** The bucket and KV for one invocation, from the bindings (S3 wins over R2 when configured). */
export interface Stores {
  blobs: BlobStore;
  kv: KV;
}

const cache = new WeakMap<object, Stores>();

export function storesOf(env: Env): Stores {
  const hit = cache.get(env);
  if (hit) return hit;
  const blobs = blobStoreOf(env);
  // Without a KV binding the KV lives in the bucket, as it does for `snappy run tick`.
  const kv: KV = env.SNAPPY_KV ? new KVBinding(env.SNAPPY_KV) : new BlobKV(blobs);
  const stores = { blobs, kv };
  cache.set(env, stores);
  return stores;
}

function blobStoreOf(env: Env): BlobStore {
  if (env.SNAPPY_S3_BUCKET) {
    return new S3BlobStore({
      bucket: env.SNAPPY_S3_BUCKET,
      prefix: env.SNAPPY_S3_PREFIX ?? '',
      ...(env.SNAPPY_S3_ENDPOINT ? { endpoint: env.SNAPPY_S3_ENDPOINT, forcePathStyle: true } : {}),
      region: env.SNAPPY_S3_REGION ?? 'us-east-1',
      ...(env.AWS_ACCESS_KEY_ID ? { accessKeyId: env.AWS_ACCESS_KEY_ID } : {}),
      ...(env.AWS_SECRET_ACCESS_KEY ? { secretAccessKey: env.AWS_SECRET_ACCESS_KEY } : {}),
      // An error may reach a tenant: it names the secret, never the key id.
      keysFrom: "the Worker's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY secrets",
      // workerd has no process.env: everything comes from the bindings.
      env: {},
    }) as BlobStore;
  }
  if (env.SNAPPY_BUCKET) return new R2BlobStore(env.SNAPPY_BUCKET, { name: 'SNAPPY_BUCKET', prefix: env.SNAPPY_BUCKET_PREFIX ?? '' });
  throw new SnappyError('no bucket bound: bind an R2 bucket as SNAPPY_BUCKET or set SNAPPY_S3_BUCKET (see docs/worker.md)', { code: ErrorCode.Config });
}
