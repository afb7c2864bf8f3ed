import { ErrorCode, SnappyError } from '../core/errors.ts';
import { assertSafeKey, toBytes, type AggregatePage, type BlobInfo, type ChangeSet, type PutOptions, type RemoteStore, type StageFile } from '../core/ports.ts';
import { AUTH_VERSION, base64url, bodyHashOf, HEADER_AUTH, HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, tenantSigner, type TenantSigner } from '../domain/auth.ts';
import { ingestKeyOf, INGEST_PATH, signIngest } from '../domain/ingest-protocol.ts';
import { isTenantId, parseSkillRef } from '../domain/names.ts';
import { CLIENT_NAME, HEADER_CLIENT, HEADER_PROTOCOL, MIN_WORKER_PROTOCOL, PROTOCOL, RELEASE, protocolOf, tooOld } from '../domain/versions.ts';
import { DEFAULT_TIMEOUTS, httpRequest, type HttpAnswer, type HttpTimeouts } from './http-client.ts';

/** Ingest limits as the Worker states them (GET /v1/limits); these are its defaults. */
interface Limits {
  bytes: number;
  rows: number;
  revs: number;
}
const FALLBACK_LIMITS: Limits = { bytes: 1024 * 1024, rows: 10_000, revs: 100 };
/** Longest a client waits on one 429 before trying again. */
const MAX_RETRY_AFTER_S = 120;
const MAX_RATE_LIMIT_WAITS = 5;

/**
 * The remote in Worker mode: every read and write goes through the Worker's signed HTTP API
 * (docs/worker.md), which authorizes each key. A tenant holds no bucket credentials, only its
 * master key, from which it derives the key it signs with.
 */
export class WorkerRemote implements RemoteStore {
  readonly url: string;
  private readonly base: string;
  private signer?: Promise<TenantSigner>;
  private limits?: Promise<Limits>;
  /** Requests made (for `--json` and the bench). */
  requests = 0;

  constructor(
    base: string,
    private readonly who: { tenant: string; masterKey: string },
    private readonly timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
  ) {
    this.base = base.replace(/\/+$/, '');
    this.url = this.base;
  }

  /** A signed request; 403 with `x-snappy-rekey` (a tenant admitted with a v1 key) registers the v2 key once and retries. */
  private async call(method: string, path: string, query: Record<string, string>, what: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const ans = await this.send(method, path, query, what, body, headers);
    if (ans.status === 403 && ans.headers['x-snappy-rekey'] === '1') {
      await this.registerKey(errorOf(ans));
      return this.send(method, path, query, what, body, headers);
    }
    return ans;
  }

  private async send(method: string, path: string, query: Record<string, string>, what: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const signer = await (this.signer ??= tenantSigner(this.who.masterKey, this.who.tenant));
    const qs = new URLSearchParams(query).toString();
    for (let waits = 0; ; waits++) {
      const timestamp = Date.now();
      const signature = await signer.sign({ method, path, query: qs, bodyHash: await bodyHashOf(body), timestamp });
      this.requests++;
      const ans = await httpRequest(`${this.base}${path}${qs ? `?${qs}` : ''}`, {
        method,
        what,
        timeouts: this.timeouts,
        headers: { ...headers, ...VERSION_HEADERS, [HEADER_AUTH]: AUTH_VERSION, [HEADER_TENANT]: this.who.tenant, [HEADER_TIMESTAMP]: String(timestamp), [HEADER_SIGNATURE]: signature },
        ...(body ? { body } : {}),
      });
      checkWorkerVersion(this.base, ans);
      if (ans.status !== 429 || waits >= MAX_RATE_LIMIT_WAITS) return ans;
      const after = Math.min(MAX_RETRY_AFTER_S, Math.max(1, Number(ans.headers['retry-after']) || 10));
      await new Promise((r) => setTimeout(r, after * 1000));
    }
  }

  private async registerKey(why: string): Promise<void> {
    const signer = await (this.signer ??= tenantSigner(this.who.masterKey, this.who.tenant));
    const body = JSON.stringify({ publicKey: signer.publicKey });
    const ts = Date.now();
    const sig = await signIngest(await ingestKeyOf(this.who.masterKey), this.who.tenant, ts, body);
    this.requests++;
    const ans = await httpRequest(`${this.base}/v1/tenant/key`, {
      method: 'POST',
      what: 'registering this tenant’s v2 key',
      timeouts: this.timeouts,
      headers: { 'content-type': 'application/json', ...VERSION_HEADERS, [HEADER_TENANT]: this.who.tenant, [HEADER_TIMESTAMP]: String(ts), [HEADER_SIGNATURE]: sig },
      body,
    });
    if (ans.status !== 200) throw final(`the Worker refused this tenant: ${why}; registering its v2 key failed too: HTTP ${ans.status}: ${errorOf(ans)}`, ans.status);
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertSafeKey(key);
    const ans = await this.call('GET', '/v1/object', { key }, `reading ${key}`);
    if (ans.status === 404) return null;
    expectOk(ans, `reading ${key}`);
    return new Uint8Array(ans.body);
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertSafeKey(key);
    const ans = await this.call('HEAD', '/v1/object', { key }, `checking ${key}`);
    if (ans.status === 404) return null;
    expectOk(ans, `checking ${key}`);
    const etag = typeof ans.headers.etag === 'string' ? ans.headers.etag.replace(/"/g, '') : undefined;
    return { key, size: Number(ans.headers['x-snappy-size'] ?? 0), ...(etag ? { etag } : {}) };
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    assertSafeKey(key);
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/octet-stream' };
    if (opts.ifAbsent) headers['if-none-match'] = '*';
    else if (opts.ifMatch !== undefined) headers['if-match'] = `"${opts.ifMatch}"`;
    const ans = await this.call('PUT', '/v1/object', { key }, `writing ${key}`, toBytes(body), headers);
    if (ans.status === 412) return false;
    expectOk(ans, `writing ${key}`);
    return true;
  }

  async *list(prefix: string, opts: { startAfter?: string } = {}): AsyncIterable<BlobInfo> {
    let after = opts.startAfter ?? '';
    for (;;) {
      const ans = await this.call('GET', '/v1/objects', { prefix, ...(after ? { after } : {}) }, `listing ${prefix}`);
      expectOk(ans, `listing ${prefix}`);
      const page = parse<{ objects: BlobInfo[]; more: boolean; next: string | null }>(ans, `listing ${prefix}`);
      for (const o of page.objects) if (!opts.startAfter || o.key > opts.startAfter) yield o;
      if (!page.more || !page.next) return;
      after = page.next;
    }
  }

  async copy(): Promise<void> {
    throw final('a tenant does not copy objects through the Worker (only its tick promotes)', 403);
  }

  async delete(key: string): Promise<void> {
    throw final(`a tenant does not delete objects through the Worker (${key})`, 403);
  }

  async changesSince(cursor: string): Promise<ChangeSet> {
    const ans = await this.call('GET', '/v1/changes', cursor ? { after: cursor } : {}, 'asking what changed');
    expectOk(ans, 'asking what changed');
    return parse<ChangeSet>(ans, 'asking what changed');
  }

  async stageRev(skill: string, rev: string, files: readonly StageFile[]): Promise<{ created: boolean }> {
    const body = JSON.stringify({ skill, rev, files: files.map((f) => ({ name: f.name, data: base64url(f.bytes) })) });
    const ans = await this.call('POST', '/v1/stage', {}, `staging ${skill}:${rev}`, toBytes(body), { 'content-type': 'application/json' });
    expectOk(ans, `staging ${skill}:${rev}`);
    return { created: parse<{ created: boolean }>(ans, 'staging').created };
  }

  async aggregateSince(cursor: string): Promise<AggregatePage> {
    const ans = await this.call('GET', '/v1/aggregate', cursor ? { after: cursor } : {}, 'pulling the aggregate');
    expectOk(ans, 'pulling the aggregate');
    const retention = ans.headers['x-snappy-retention-days'];
    const days = retention === undefined ? NaN : Number(retention);
    return {
      ndjson: ans.body.toString('utf8'),
      cursor: String(ans.headers['x-snappy-cursor'] ?? cursor),
      more: ans.headers['x-snappy-more'] === '1',
      batches: Number(ans.headers['x-snappy-batches'] ?? 0),
      segments: Number(ans.headers['x-snappy-segments'] ?? 0),
      // A Worker of an earlier release says nothing: nothing is pruned for it.
      ...(Number.isSafeInteger(days) && days >= 0 ? { retentionDays: days } : {}),
      ...(typeof ans.headers['x-snappy-removed-tenants'] === 'string' ? { removedTenants: ans.headers['x-snappy-removed-tenants'].split(',').filter((t) => isTenantId(t)) } : {}),
    };
  }

  /**
   * Ships rows through `POST /v1/ingest`, split into batches within the Worker's limits (bytes,
   * rows, distinct revs). The split depends only on the rows, so a rerun after a crash sends
   * the same batches again, which the Worker recognises by content and stores once.
   */
  async shipAggregate(ndjson: string): Promise<{ batches: string[]; rows: number; requests: number }> {
    const before = this.requests;
    let limits = await (this.limits ??= this.fetchLimits());
    const out: string[] = [];
    let rows = 0;
    for (let chunks = splitBatch(ndjson, limits), i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const ans = await this.call('POST', INGEST_PATH, {}, 'shipping an aggregate batch', toBytes(chunk.text), { 'content-type': 'application/x-ndjson' });
      if (ans.status === 413 && ans.headers['x-snappy-limit-bytes']) {
        // The Worker's limits are tighter than we knew: split what is left again, by its numbers.
        const stated = { bytes: Number(ans.headers['x-snappy-limit-bytes']) || limits.bytes, rows: Number(ans.headers['x-snappy-limit-rows']) || limits.rows, revs: Number(ans.headers['x-snappy-limit-revs']) || limits.revs };
        if (stated.bytes < limits.bytes || stated.rows < limits.rows || stated.revs < limits.revs) {
          limits = stated;
          this.limits = Promise.resolve(stated);
          chunks = [...chunks.slice(0, i), ...splitBatch(chunks.slice(i).map((c) => c.text).join(''), limits)];
          i--;
          continue;
        }
      }
      expectOk(ans, 'shipping an aggregate batch');
      out.push(parse<{ key: string }>(ans, 'shipping an aggregate batch').key);
      rows += chunk.rows;
    }
    return { batches: out, rows, requests: this.requests - before };
  }

  async fleetStatus(): Promise<Record<string, unknown>> {
    const ans = await this.call('GET', '/v1/status', {}, 'asking the Worker for the fleet status');
    expectOk(ans, 'asking the Worker for the fleet status');
    return parse<Record<string, unknown>>(ans, 'the fleet status');
  }

  /** What the Worker knows of this tenant (GET /v1/whoami, protocol 2): its record, when it was last seen, the last tick. */
  async whoami(): Promise<Record<string, unknown>> {
    const ans = await this.call('GET', '/v1/whoami', {}, 'asking the Worker who this tenant is');
    if (ans.status === 404) throw final(`the Worker at ${this.base} is older than protocol 2 and cannot say (GET /v1/whoami): upgrade it (docs/operate.md "Upgrade")`, 404);
    expectOk(ans, 'asking the Worker who this tenant is');
    return parse<Record<string, unknown>>(ans, 'the Worker\'s answer to whoami');
  }

  private async fetchLimits(): Promise<Limits> {
    try {
      this.requests++;
      const ans = await httpRequest(`${this.base}/v1/limits`, { method: 'GET', what: 'asking the Worker for its limits', timeouts: this.timeouts, headers: VERSION_HEADERS });
      if (ans.status !== 200) return FALLBACK_LIMITS;
      const l = (JSON.parse(ans.body.toString('utf8')) as { ingest?: Partial<Limits> }).ingest ?? {};
      return { bytes: l.bytes || FALLBACK_LIMITS.bytes, rows: l.rows || FALLBACK_LIMITS.rows, revs: l.revs || FALLBACK_LIMITS.revs };
    } catch {
      return FALLBACK_LIMITS;
    }
  }
}

/** Splits ndjson rows into batches that keep within the limits (a little under the byte limit, for safety). */
export function splitBatch(ndjson: string, limits: Limits): { text: string; rows: number }[] {
  const maxBytes = Math.max(1024, Math.floor(limits.bytes * 0.95));
  const out: { text: string; rows: number }[] = [];
  let cur: string[] = [];
  let bytes = 0;
  let revs = new Set<string>();
  const flush = () => {
    if (cur.length) out.push({ text: cur.join(''), rows: cur.length });
    cur = [];
    bytes = 0;
    revs = new Set();
  };
  for (const line of ndjson.split('\n')) {
    if (!line) continue;
    const text = `${line}\n`;
    const size = Buffer.byteLength(text);
    const rev = revOf(line);
    const newRev = rev !== null && !revs.has(rev);
    if (cur.length && (bytes + size > maxBytes || cur.length + 1 > limits.rows || (newRev && revs.size + 1 > limits.revs))) flush();
    cur.push(text);
    bytes += size;
    if (rev !== null) revs.add(rev);
  }
  flush();
  return out;
}

function revOf(line: string): string | null {
  const m = /"skill":"([^"]*)"/.exec(line);
  const ref = m ? parseSkillRef(m[1]!) : null;
  return ref?.rev ? `${ref.skill}:${ref.rev}` : null;
}

/** Sent with every request: what this client speaks, for the Worker's gate and its fleet view. */
const VERSION_HEADERS = { [HEADER_PROTOCOL]: String(PROTOCOL), [HEADER_CLIENT]: CLIENT_NAME };

/**
 * The Worker's side of the protocol rule (domain/versions.ts): a 426 says it no longer serves
 * this release; an answer naming a protocol older than this client's minimum is refused here.
 * Both are E_VERSION (exit 2): upgrading one side is the fix, retrying is not.
 */
export function checkWorkerVersion(base: string, ans: HttpAnswer): void {
  if (ans.status === 426) throw Object.assign(new SnappyError(`the Worker at ${base} refused this snappy (${RELEASE}, protocol ${PROTOCOL}): ${errorOf(ans)}`, { code: ErrorCode.Version, details: { status: 426 } }), { retryable: false });
  const header = ans.headers[HEADER_PROTOCOL];
  const theirs = protocolOf(typeof header === 'string' ? header : undefined);
  if (theirs !== null && tooOld(theirs, MIN_WORKER_PROTOCOL)) {
    throw Object.assign(new SnappyError(`the Worker at ${base} speaks protocol ${theirs}; this snappy (${RELEASE}) needs protocol ${MIN_WORKER_PROTOCOL} or newer: upgrade the Worker (npx wrangler deploy; docs/operate.md "Upgrade")`, { code: ErrorCode.Version }), { retryable: false });
  }
}

function errorOf(ans: HttpAnswer): string {
  const text = ans.body.toString('utf8');
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') return j.error;
  } catch {
    // not JSON: show the text
  }
  return text.trim().slice(0, 300) || `HTTP ${ans.status}`;
}

/** A refusal that retrying will not change (4xx): marked so sync's retry loop stops at once. */
function final(message: string, status: number, workerCode?: string): SnappyError {
  return Object.assign(new SnappyError(message, { code: ErrorCode.Remote, details: { status, ...(workerCode ? { workerCode } : {}) } }), { retryable: false });
}

/** The stable code of the Worker's refusal (`E_ROTATED`, `E_REVOKED`, ...), when it gave one. */
function codeOf(ans: HttpAnswer): string | undefined {
  try {
    const c = (JSON.parse(ans.body.toString('utf8')) as { code?: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

function expectOk(ans: HttpAnswer, what: string): void {
  if (ans.status >= 200 && ans.status < 300) return;
  const msg = `${what}: the Worker answered HTTP ${ans.status}: ${errorOf(ans)}`;
  if (ans.status >= 400 && ans.status < 500) throw final(msg, ans.status, codeOf(ans));
  throw new SnappyError(msg, { code: ErrorCode.Remote, details: { status: ans.status } });
}

function parse<T>(ans: HttpAnswer, what: string): T {
  try {
    return JSON.parse(ans.body.toString('utf8')) as T;
  } catch {
    throw new SnappyError(`${what}: the Worker's answer is not JSON: ${ans.body.toString('utf8').slice(0, 200)}`, { code: ErrorCode.Remote });
  }
}
