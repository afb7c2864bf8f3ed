import { hmacSha256Hex, sha256Hex } from './hash.ts';

/**
 * How a tenant ships aggregate batches to the Worker. The master key never leaves the
 * machine: the tenant signs with an ingest key derived from it, which the operator admits.
 *
 *   POST {worker}/v1/ingest            body: aggregate rows, ndjson (schema v1)
 *   x-snappy-tenant:    tenant id (12 hex)
 *   x-snappy-timestamp: epoch ms (the Worker refuses anything outside its replay window)
 *   x-snappy-signature: hex HMAC-SHA256(ingest key, `${tenant}\n${timestamp}\n${sha256hex(body)}`)
 *
 * The batch is stored create-only at Remote.aggregateBatch(tenant, batchIdOf(body)), so a
 * retried batch adds nothing.
 */
export const INGEST_PATH = '/v1/ingest';
export const HEADER_TENANT = 'x-snappy-tenant';
export const HEADER_TIMESTAMP = 'x-snappy-timestamp';
export const HEADER_SIGNATURE = 'x-snappy-signature';

/** The key a tenant hands to the operator for admission (`snappy ops tenants admit`). */
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
