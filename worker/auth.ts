import { timingSafeEqual } from '../domain/hash.ts';
import type { Env } from './env.ts';
import { fail } from './http.ts';

/**
 * Checks `Authorization: Bearer <OPS_TOKEN>` in constant time. Returns the refusal to send,
 * or null when the token is right: none -> 401, wrong -> 403, no OPS_TOKEN secret -> 503.
 */
export function opsRefusal(req: Request, env: Env): Response | null {
  const want = env.OPS_TOKEN;
  if (!want) return fail(503, 'OPS_TOKEN is not set on this Worker: `wrangler secret put OPS_TOKEN` (docs/worker.md)');
  const header = req.headers.get('authorization');
  if (!header) return fail(401, 'missing Authorization: Bearer <ops token>', { 'www-authenticate': 'Bearer realm="snappy-ops"' });
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m || !timingSafeEqual(m[1]!, want)) return fail(403, 'wrong ops token');
  return null;
}
