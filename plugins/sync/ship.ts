import { ErrorCode, SnappyError, messageOf } from '../../core/errors.ts';
import type { BlobStore } from '../../core/ports.ts';
import { HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, INGEST_PATH, ingestKeyOf, signIngest } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { Refusal } from './local.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** One aggregate batch on its way out. */
export interface Batch {
  key: string;
  ndjson: string;
  tenant: string;
  masterKey: string;
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

/**
 * POSTs the batch to the Worker's ingest route, signed with the ingest key derived from the
 * master key (domain/ingest-protocol.ts). 5xx and network errors are retried; a 4xx is final
 * and its message (the Worker's) is shown.
 */
export async function shipToWorker(workerUrl: string, batch: Batch, retry: RetryPolicy): Promise<{ status: number; body: string }> {
  const url = `${workerUrl.replace(/\/+$/, '')}${INGEST_PATH}`;
  const ingestKey = await ingestKeyOf(batch.masterKey);
  return withRetry(async () => {
    const ts = Date.now();
    const signature = await signIngest(ingestKey, batch.tenant, ts, batch.ndjson);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', [HEADER_TENANT]: batch.tenant, [HEADER_TIMESTAMP]: String(ts), [HEADER_SIGNATURE]: signature },
        body: batch.ndjson,
      });
    } catch (err) {
      throw new SnappyError(`POST ${url} (aggregate batch ${batch.key}) failed: ${messageOf((err as { cause?: unknown }).cause ?? err)}`, { code: ErrorCode.Remote, cause: err });
    }
    const body = await res.text().catch(() => '');
    if (res.ok) return { status: res.status, body };
    const msg = `the Worker refused aggregate batch ${batch.key}: POST ${url} → HTTP ${res.status}: ${workerMessage(body) || res.statusText}`;
    // A 4xx will not change on retry: stop at once.
    if (res.status >= 400 && res.status < 500) throw new Refusal(batch.key, msg);
    throw new SnappyError(msg, { code: ErrorCode.Remote, details: { status: res.status } });
  }, retry).catch((err) => {
    if (err instanceof Refusal) throw new SnappyError(err.reason, { code: ErrorCode.Remote });
    throw err;
  });
}

function workerMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown; message?: unknown };
    const e = j.error;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON: show the text itself
  }
  return body.trim().slice(0, 500);
}
