import { ErrorCode, SnappyError, messageOf } from '../../core/errors.ts';
import type { BlobStore } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** One aggregate batch on its way out. */
export interface Batch {
  key: string;
  ndjson: string;
  tenant: string;
}

/**
 * Stores the batch create-only on the remote (a batch already there is the same batch:
 * content-addressed), then an entry in the time-ordered batch index, as the Worker's ingest
 * does, so a tick finds new batches without listing them all. The index entry is written
 * even when the batch was already there (a rerun after a crash between the two writes); the
 * tick dedupes rows by (tenant, run_id), so reading a batch twice counts nothing twice.
 */
export async function shipToRemote(remote: BlobStore, batch: Batch, retry: RetryPolicy): Promise<{ created: boolean }> {
  const fail = (err: unknown) => {
    throw new SnappyError(`shipping the aggregate batch ${batch.key} to ${remote.url} failed: ${messageOf(err)}`, { code: ErrorCode.Remote, cause: err });
  };
  const created = await withRetry(() => remote.put(batch.key, batch.ndjson, { ifAbsent: true, contentType: 'application/x-ndjson' }), retry).catch(fail);
  const id = batch.key.slice(batch.key.lastIndexOf('/') + 1).replace(/\.ndjson$/, '');
  await withRetry(() => remote.put(Remote.aggregateIndex(Date.now(), batch.tenant, id), batch.key, { ifAbsent: true }), retry).catch(fail);
  return { created };
}
