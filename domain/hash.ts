/** SHA-256 helpers on WebCrypto, so they run in Node and workerd alike. */

const enc = new TextEncoder();

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? enc.encode(data) : data;
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** Tenant id: first 12 hex of SHA-256 of the master key. */
export async function tenantIdOf(masterKey: string): Promise<string> {
  return tenantIdOfSha256(await sha256Hex(masterKey));
}

/** The tenant id of a master key whose SHA-256 is `hexDigest`, for a host that hashes it faster than WebCrypto starts. */
export function tenantIdOfSha256(hexDigest: string): string {
  return hexDigest.slice(0, 12);
}

/** Rev id: first 12 hex of SHA-256 of the page bytes. */
export async function revIdOf(page: Uint8Array | string): Promise<string> {
  return (await sha256Hex(page)).slice(0, 12);
}

export async function hmacSha256Hex(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', k, enc.encode(message)));
}

/** Constant-time comparison of two strings (length leaks; content does not). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = enc.encode(a);
  const y = enc.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i % x.length] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0;
}
