import { ErrorCode } from '../core/errors.ts';
import { readLayout } from '../domain/remote-version.ts';
import { HEADER_PROTOCOL, HEADER_WORKER, LAYOUT, MIN_CLIENT_PROTOCOL, PROTOCOL, RELEASE, protocolOf, tooOld } from '../domain/versions.ts';
import type { Stores } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json } from './http.ts';
import { replayWindowMs } from './tenant-auth.ts';

/**
 * The oldest client protocol this Worker serves: MIN_CLIENT_PROTOCOL, or higher when the
 * operator says so (SNAPPY_MIN_CLIENT_PROTOCOL), once every tenant runs a release that speaks
 * it (the ops page lists the releases in use). Never above the Worker's own protocol.
 */
export function minClientProtocol(env: Env): number {
  const n = Number(env.SNAPPY_MIN_CLIENT_PROTOCOL);
  return Number.isSafeInteger(n) && n >= MIN_CLIENT_PROTOCOL ? Math.min(n, PROTOCOL) : MIN_CLIENT_PROTOCOL;
}

/**
 * Refuses a tenant request of a protocol older than the Worker serves (426, naming both and
 * what to do), or one whose protocol header is not a protocol (400). The operator's routes and
 * `/v1/version` (how a client learns what the Worker speaks) are never refused.
 */
export function protocolGate(req: Request, env: Env, path: string): Response | null {
  if (!path.startsWith('/v1/') || path === '/v1/version') return null;
  const header = req.headers.get(HEADER_PROTOCOL);
  const theirs = protocolOf(header);
  if (theirs === null) return fail(400, `${HEADER_PROTOCOL}: ${JSON.stringify(header)} is not a protocol version (a positive integer)`);
  const min = minClientProtocol(env);
  if (tooOld(theirs, min)) {
    return fail(
      426,
      `this Worker (snappy ${RELEASE}, protocol ${PROTOCOL}) serves clients of protocol ${min} or newer; this request is protocol ${theirs}${header ? '' : ' (a snappy that names no protocol)'}: upgrade snappy on this machine (docs/operate.md "Upgrade")`,
      { 'x-snappy-min-protocol': String(min) },
      ErrorCode.Version,
    );
  }
  return null;
}

/** Every answer names the Worker's protocol and release, so a client can tell what it talks to. */
export function stamp(res: Response): Response {
  try {
    res.headers.set(HEADER_PROTOCOL, String(PROTOCOL));
    res.headers.set(HEADER_WORKER, RELEASE);
    return res;
  } catch {
    // Headers of a fetched answer are immutable: copy them.
    const out = new Response(res.body, res);
    out.headers.set(HEADER_PROTOCOL, String(PROTOCOL));
    out.headers.set(HEADER_WORKER, RELEASE);
    return out;
  }
}

/**
 * GET /v1/version (anyone): what the Worker speaks and its clock, for `snappy doctor` and for
 * clients deciding what they may ask. Nothing per tenant.
 */
export async function versionInfo(env: Env, stores: Stores): Promise<Response> {
  const layout = await readLayout(stores.blobs).catch(() => null);
  return json({
    ok: true,
    worker: RELEASE,
    protocol: PROTOCOL,
    minClientProtocol: minClientProtocol(env),
    layout: { known: LAYOUT, remote: layout?.layout ?? null },
    now: Date.now(),
    windowMs: replayWindowMs(env),
  });
}
