import { S3BlobStore } from '../../../adapters/s3-blob-store.ts';
import type { S3Server } from '../../helpers/s3rver.ts';

/** Every object in the bucket (whole bucket, no prefix) as key → text, read through the S3 API. */
export async function bucketObjects(srv: S3Server, bucket = 'snappy'): Promise<Record<string, string>> {
  const s3 = new S3BlobStore({ bucket, endpoint: srv.endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' });
  const out: Record<string, string> = {};
  try {
    for await (const o of s3.list('')) out[o.key] = new TextDecoder().decode((await s3.get(o.key))!);
  } finally {
    s3.destroy();
  }
  return out;
}

/** The environment a CLI run needs to reach the s3rver. */
export function s3Env(srv: S3Server): Record<string, string> {
  return { ...srv.env, AWS_ENDPOINT_URL: srv.endpoint };
}
