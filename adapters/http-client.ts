import http from 'node:http';
import https from 'node:https';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/** Timeouts of one request to the Worker (config `worker.connectTimeoutMs` / `worker.timeoutMs`). */
export interface HttpTimeouts {
  /** Until the TCP (and TLS) connection is up. */
  connectMs: number;
  /** From the request sent until the whole answer is in. */
  responseMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 10_000, responseMs: 60_000 };

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 32 }), https: new https.Agent({ keepAlive: true, maxSockets: 32 }) };

/**
 * One HTTP request with a connect timeout and a response timeout, so an endpoint that accepts
 * the connection and never answers fails in bounded time. Failures are SnappyErrors (E_REMOTE)
 * that name `what` (the route) and the URL. Keep-alive sockets are reused across requests.
 */
export function httpRequest(url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array | string; what: string; timeouts?: HttpTimeouts }): Promise<HttpAnswer> {
  const t = init.timeouts ?? DEFAULT_TIMEOUTS;
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
  const where = `${init.what} (${init.method} ${u.origin}${u.pathname})`;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, ans?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      if (err) reject(err);
      else resolve(ans!);
    };
    const fail = (msg: string, cause?: unknown) => done(new SnappyError(`${where}: ${msg}`, { code: ErrorCode.Remote, ...(cause ? { cause } : {}) }));
    const req = mod.request(
      u,
      {
        method: init.method,
        agent: u.protocol === 'https:' ? agents.https : agents.http,
        headers: { ...(init.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => fail(`the answer broke off: ${err.message}`, err));
      },
    );
    const connectTimer = setTimeout(() => {
      fail(`could not connect within ${t.connectMs} ms`);
      req.destroy();
    }, t.connectMs);
    const responseTimer = setTimeout(() => {
      fail(`no complete answer within ${t.responseMs} ms (the endpoint accepted the connection and went silent)`);
      req.destroy();
    }, t.connectMs + t.responseMs);
    req.on('socket', (s) => {
      // A reused keep-alive socket is already connected.
      if (!s.connecting) clearTimeout(connectTimer);
      else s.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ECONNREFUSED' ? 'connection refused (is the Worker URL right, and is it running?)' : err.code === 'ENOTFOUND' ? `host ${u.hostname} not found` : err.message, err));
    if (body) req.end(body);
    else req.end();
  });
}
