import { timingSafeEqual } from '../domain/hash.ts';
import type { Env } from './env.ts';
import { fail } from './http.ts';

/** Ops tokens shorter than this are refused: a token is all that stands before promotion. */
export const MIN_OPS_TOKEN_LENGTH = 32;
/** Wrong tokens from one client within the window before it is locked out for the window. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;

/** Who holds the token a request carried. */
export interface Operator {
  /** The token's name (OPS_TOKENS), or `ops` for the single OPS_TOKEN. */
  name: string;
  /** True when the token is named: it is the operator, and `by` may not say otherwise. */
  named: boolean;
}

/**
 * The Worker's ops tokens: `OPS_TOKENS` (`name:token,name:token`, one per operator, so an
 * approval records who made it), else the single `OPS_TOKEN`. Returns the refusal when they are
 * missing or too short.
 */
function tokensOf(env: Env): { name: string; token: string; named: boolean }[] | Response {
  const out: { name: string; token: string; named: boolean }[] = [];
  if (env.OPS_TOKENS) {
    for (const part of env.OPS_TOKENS.split(',')) {
      const i = part.indexOf(':');
      const name = part.slice(0, i).trim();
      const token = part.slice(i + 1).trim();
      if (i <= 0 || !/^[A-Za-z0-9._@+-]{1,64}$/.test(name)) return fail(503, 'OPS_TOKENS is malformed on this Worker: expected name:token,name:token (docs/worker.md "/snappy-ops")');
      out.push({ name, token, named: true });
    }
  } else if (env.OPS_TOKEN) out.push({ name: 'ops', token: env.OPS_TOKEN, named: false });
  else return fail(503, 'no ops token is set on this Worker: `wrangler secret put OPS_TOKENS` (name:token,...) or OPS_TOKEN (docs/worker.md)');
  const short = out.find((t) => t.token.length < MIN_OPS_TOKEN_LENGTH);
  if (short) return fail(503, `the ops token${short.named ? ` of ${short.name}` : ''} is shorter than ${MIN_OPS_TOKEN_LENGTH} characters: set a longer one (e.g. openssl rand -base64 32)`);
  return out;
}

/** Failed attempts per client, in this isolate (the Rate Limiting binding, when bound, spans them). */
const failures = new Map<string, { n: number; since: number }>();

function clientOf(req: Request): string {
  // Only Cloudflare's own header: a client can write X-Forwarded-For, and so escape the lockout.
  return req.headers.get('cf-connecting-ip') ?? 'unknown';
}

async function lockedOut(req: Request, env: Env, now: number): Promise<Response | null> {
  const f = failures.get(clientOf(req));
  if (f && now - f.since < FAILURE_WINDOW_MS && f.n >= MAX_FAILURES) return fail(429, `too many wrong ops tokens from this client: retry after ${Math.ceil((FAILURE_WINDOW_MS - (now - f.since)) / 1000)} s`, { 'retry-after': String(Math.ceil((FAILURE_WINDOW_MS - (now - f.since)) / 1000)) });
  return null;
}

async function recordFailure(req: Request, env: Env, now: number): Promise<Response | null> {
  const client = clientOf(req);
  const f = failures.get(client);
  if (!f || now - f.since >= FAILURE_WINDOW_MS) failures.set(client, { n: 1, since: now });
  else f.n++;
  if (failures.size > 10_000) failures.clear();
  if (env.SNAPPY_OPS_LIMITER) {
    const { success } = await env.SNAPPY_OPS_LIMITER.limit({ key: `ops:${client}` });
    if (!success) return fail(429, 'too many wrong ops tokens from this client: retry after 60 s', { 'retry-after': '60' });
  }
  return null;
}

/**
 * Checks `Authorization: Bearer <token>` against the ops tokens, in constant time. Returns the
 * operator, or the refusal: none -> 401, wrong -> 403, too many wrong ones from a client -> 429,
 * no token or a short one configured -> 503.
 */
export async function opsAuth(req: Request, env: Env, now = Date.now()): Promise<Operator | Response> {
  const tokens = tokensOf(env);
  if (tokens instanceof Response) return tokens;
  const locked = await lockedOut(req, env, now);
  if (locked) return locked;
  const header = req.headers.get('authorization');
  if (!header) return fail(401, 'missing Authorization: Bearer <ops token>', { 'www-authenticate': 'Bearer realm="snappy-ops"' });
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  const given = m?.[1] ?? '';
  let hit: (typeof tokens)[number] | undefined;
  // Every token is compared, so the time taken says nothing about which one nearly matched.
  for (const t of tokens) if (timingSafeEqual(given, t.token) && !hit) hit = t;
  if (!hit) return (await recordFailure(req, env, now)) ?? fail(403, 'wrong ops token');
  return { name: hit.name, named: hit.named };
}
