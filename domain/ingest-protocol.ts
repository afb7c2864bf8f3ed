import { hmacSha256Hex, sha256Hex } from './hash.ts';

/**
 * Aggregate batches to the Worker: `POST {worker}/v1/ingest`, body ndjson rows (schema v1),
 * stored create-only at Remote.aggregateBatch(tenant, batchIdOf(body)), so a retried batch
 * adds nothing. Requests are signed v2 (domain/auth.ts).
 *
 * Signatures v1, kept only for a fleet moving to v2 (docs/worker.md "Moving from signatures
 * v1"): headers x-snappy-tenant, x-snappy-timestamp and x-snappy-signature = hex
 * HMAC-SHA256(ingest key, `${tenant}\n${timestamp}\n${sha256hex(body)}`), where the ingest key
 * is an HMAC of a fixed string under the master key. It signs neither the method nor the path,
 * and its key is an HMAC of the same kind as the aggregate's `run_id`: v2 fixes both.
 */
export const INGEST_PATH = '/v1/ingest';
export { HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP } from './auth.ts';

/** The v1 ingest key (legacy): what tenants admitted before signatures v2 were admitted with. */
export function ingestKeyOf(masterKey: string): Promise<string> {
  return hmacSha256Hex(masterKey, 'snappy-ingest-v1');
}

export async function signIngest(ingestKey: string, tenant: string, timestamp: number, body: string): Promise<string> {
  return hmacSha256Hex(ingestKey, `${tenant}\n${timestamp}\n${await sha256Hex(body)}`);
}

/** Content-addressed batch id: the same rows always make the same batch. */
export async function batchIdOf(body: string): Promise<string> {
  return (await sha256Hex(body)).slice(0, 16);
}
