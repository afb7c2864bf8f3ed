import path from 'node:path';
import type { ResolvedConfig } from '../core/config.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';

/** The remote used when none is given: `.snappy-remote/` beside the state dir. */
export function defaultRemote(stateDir: string): string {
  return `file://${path.join(path.dirname(path.resolve(stateDir)), '.snappy-remote')}`;
}

/**
 * Opens a remote URL. `file://DIR` needs no client; `s3://BUCKET[/PREFIX]` loads the S3
 * adapter (and the AWS SDK) only now.
 */
export async function openRemote(url: string, config: ResolvedConfig): Promise<BlobStore> {
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (!dir) throw new SnappyError(`remote ${url}: file:// needs a folder`, { code: ErrorCode.Usage });
    const { FileBlobStore } = await import('../adapters/file-blob-store.ts');
    return new FileBlobStore(path.resolve(dir));
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const [bucket, ...prefix] = rest.split('/');
    if (!bucket) throw new SnappyError(`remote ${url}: s3:// needs a bucket`, { code: ErrorCode.Usage });
    let mod: { S3BlobStore?: new (o: unknown) => BlobStore };
    try {
      mod = await import(/* s3 adapter */ '../adapters/s3-blob-store.ts' as string);
    } catch (err) {
      throw new SnappyError(`remote ${url}: the S3 adapter is not available in this build`, { code: ErrorCode.Usage, cause: err });
    }
    return new mod.S3BlobStore!({ bucket, prefix: prefix.filter(Boolean).join('/'), ...(config.s3 ?? {}) });
  }
  throw new SnappyError(`remote ${JSON.stringify(url)}: expected file://DIR or s3://BUCKET[/PREFIX]`, { code: ErrorCode.Usage });
}
