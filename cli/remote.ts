import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileBlobStore } from '../adapters/file-blob-store.ts';
import type { ResolvedConfig } from '../core/config.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';

/** The remote used when none is given: `.snappy-remote/` beside the state dir. */
export function defaultRemote(stateDir: string): string {
  return `file://${path.join(path.dirname(path.resolve(stateDir)), '.snappy-remote')}`;
}

/** What a command is about to do with the remote: read what is there, or also write to it. */
export type RemoteUse = 'read' | 'write';

/**
 * Checks a file:// remote before any work. One named explicitly (`from`) must exist, or, for
 * a command that writes, have an existing parent: a typo must neither read as an empty fleet
 * nor scatter folders about. The embedded default is created by its first write and reads
 * as empty until then. With `create`, a writer creates a named folder now, so that others can
 * read it even when this push had nothing to send. Other remotes answer for themselves.
 */
export async function checkRemote(url: string, from: string | undefined, use: RemoteUse, create = false): Promise<void> {
  if (!url.startsWith('file://') || url === 'file://') return;
  const dir = path.resolve(url.slice('file://'.length));
  const kind = async (p: string) => (await fs.stat(p).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : Promise.reject(err))))?.isDirectory();
  const here = await kind(dir);
  if (here) return;
  const named = from ? ` (from ${from})` : '';
  if (here === false) throw new SnappyError(`remote ${url}${named} is not a folder`, { code: ErrorCode.Usage, details: { path: dir } });
  if (!from) return;
  if (use === 'read') {
    throw new SnappyError(`remote ${url}${named} does not exist: there is nothing to read there; check the path (a push creates the folder when its parent exists)`, { code: ErrorCode.Usage, details: { path: dir } });
  }
  const parent = path.dirname(dir);
  if (!(await kind(parent))) {
    throw new SnappyError(`remote ${url}${named} does not exist, nor does its parent folder ${parent}: check the path, or create it (mkdir -p ${JSON.stringify(dir)})`, { code: ErrorCode.Usage, details: { path: dir } });
  }
  if (create) await fs.mkdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
}

/**
 * Opens a remote URL. `file://DIR` needs no client; `s3://BUCKET[/PREFIX]` loads the S3
 * adapter (and the AWS SDK) only now.
 */
export async function openRemote(url: string, config: ResolvedConfig): Promise<BlobStore> {
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (!dir) throw new SnappyError(`remote ${url}: file:// needs a folder`, { code: ErrorCode.Usage });
    return new FileBlobStore(path.resolve(dir));
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const [bucket, ...prefix] = rest.split('/');
    if (!bucket) throw new SnappyError(`remote ${url}: s3:// needs a bucket`, { code: ErrorCode.Usage });
    // Before any request: a profile named but absent is a config error, and an endpoint from
    // the shared AWS files gets path style like one from the environment or the config.
    const { awsProfileSettings } = await import('../adapters/aws-profile.ts');
    const profile = awsProfileSettings(process.env);
    let mod: { S3BlobStore?: new (o: unknown) => BlobStore };
    try {
      mod = await import(/* s3 adapter */ '../adapters/s3-blob-store.ts' as string);
    } catch (err) {
      throw new SnappyError(`remote ${url}: the S3 adapter is not available in this build`, { code: ErrorCode.Usage, cause: err });
    }
    const s3 = config.s3 ?? {};
    const env = process.env;
    const fromEnv = !profile.ignoreConfiguredEndpoints && !!(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
    const fromFiles = !s3.endpoint && !fromEnv && !profile.ignoreConfiguredEndpoints ? profile.endpoint : undefined;
    const region = s3.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || profile.region || undefined);
    const style = profile.addressingStyle === 'virtual' ? false : profile.addressingStyle === 'path' ? true : undefined;
    return new mod.S3BlobStore!({
      bucket,
      prefix: prefix.filter(Boolean).join('/'),
      ...s3,
      ...(fromFiles ? { endpoint: fromFiles } : {}),
      ...(region ? { region } : {}),
      ...(s3.forcePathStyle === undefined && style !== undefined ? { forcePathStyle: style } : {}),
      ...(profile.ignoreConfiguredEndpoints && !s3.endpoint ? { env: { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' } } : {}),
    });
  }
  throw new SnappyError(`remote ${JSON.stringify(url)}: expected file://DIR or s3://BUCKET[/PREFIX]`, { code: ErrorCode.Usage });
}
