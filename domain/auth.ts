import { hex, sha256Hex } from './hash.ts';

/**
 * Signed requests to the Worker, version 2 (docs/worker.md "Authentication").
 *
 * A tenant signs every request with an Ed25519 key derived from its master key. The Worker
 * keeps only the public half, so its tenant registry holds nothing secret, and the master key
 * never leaves the tenant's machines. The signing seed comes from HKDF keyed by a fixed salt,
 * never an HMAC keyed by the master key itself: the aggregate's `run_id` is such an HMAC over
 * a string the tenant chooses, so no run id can reproduce any part of the signing key.
 *
 * The signature covers what a request does, so a captured request cannot be re-aimed:
 *
 *   snappy-v2 \n METHOD \n PATH \n CANONICAL-QUERY \n sha256hex(BODY) \n TIMESTAMP \n TENANT
 *
 * where CANONICAL-QUERY is the query's pairs, percent-encoded, sorted, joined by `&`.
 */
export const AUTH_VERSION = 'v2';
export const HEADER_AUTH = 'x-snappy-auth';
export const HEADER_TENANT = 'x-snappy-tenant';
export const HEADER_TIMESTAMP = 'x-snappy-timestamp';
export const HEADER_SIGNATURE = 'x-snappy-signature';

const enc = new TextEncoder();
const SALT = enc.encode('snappy/tenant-signing-key');
const INFO = enc.encode('ed25519/v2');
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ED25519 = { name: 'Ed25519' } as const;

/** What a signature covers. */
export interface RequestParts {
  method: string;
  /** URL path, as sent (percent-encoded). */
  path: string;
  /** The URL's query string without `?` (any order; it is canonicalised). */
  query: string;
  /** SHA-256 hex of the body (of the empty string for none). */
  bodyHash: string;
  timestamp: number;
  tenant: string;
}

/** A tenant's signing key pair; `publicKey` is what the operator admits. */
export interface TenantSigner {
  tenant: string;
  /** Base64url of the raw 32-byte Ed25519 public key (43 characters). */
  publicKey: string;
  sign(parts: Omit<RequestParts, 'tenant'>): Promise<string>;
}

export const EMPTY_BODY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The Ed25519 seed of a master key: HKDF-SHA256(ikm = master key, fixed salt and info). */
export async function signingSeedOf(masterKey: string): Promise<Uint8Array> {
  const ikm = await crypto.subtle.importKey('raw', enc.encode(masterKey), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: INFO }, ikm, 256));
}

/** The signer of a tenant, from its master key. */
export async function tenantSigner(masterKey: string, tenant: string): Promise<TenantSigner> {
  const seed = await signingSeedOf(masterKey);
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(seed, PKCS8_PREFIX.length);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  if (!jwk.x) throw new Error('Ed25519 key export gave no public key');
  return {
    tenant,
    publicKey: jwk.x,
    sign: async (parts) => base64url(new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, enc.encode(canonicalRequest({ ...parts, tenant }))))),
  };
}

/** The string a v2 signature signs. */
export function canonicalRequest(p: RequestParts): string {
  return ['snappy-v2', p.method.toUpperCase(), p.path, canonicalQuery(p.query), p.bodyHash, String(p.timestamp), p.tenant].join('\n');
}

/** Query pairs percent-encoded the same way whatever the sender did, sorted. */
export function canonicalQuery(query: string): string {
  const pairs: string[] = [];
  for (const [k, v] of new URLSearchParams(query)) pairs.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return pairs.sort().join('&');
}

/** True when `signature` (base64url) is `publicKey`'s signature of `parts`. */
export async function verifyRequest(publicKey: string, parts: RequestParts, signature: string): Promise<boolean> {
  const pub = fromBase64url(publicKey);
  const sig = fromBase64url(signature);
  if (!pub || pub.length !== 32 || !sig || sig.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey('raw', pub as Uint8Array<ArrayBuffer>, ED25519, false, ['verify']);
    return await crypto.subtle.verify(ED25519, key, sig as Uint8Array<ArrayBuffer>, enc.encode(canonicalRequest(parts)));
  } catch {
    return false;
  }
}

/** A public key as `snappy ops key` prints it: 43 characters of base64url. */
export function isPublicKey(s: unknown): s is string {
  return typeof s === 'string' && /^[A-Za-z0-9_-]{43}$/.test(s) && fromBase64url(s)?.length === 32;
}

export async function bodyHashOf(body: Uint8Array | string | undefined): Promise<string> {
  if (body === undefined || body.length === 0) return EMPTY_BODY_HASH;
  return sha256Hex(body);
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** A short, stable id of a signature (for replay records): 32 hex of its SHA-256. */
export async function signatureId(signature: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(signature)))).slice(0, 32);
}
