import type { BlobInfo } from '../core/ports.ts';
import { assertSafeKey } from '../core/ports.ts';
import { appendFeed, FEED_SKEW_MS, listTimeOrdered, nextCursor, trailCursor, type FeedEntry } from '../domain/feed.ts';
import { Remote } from '../domain/layout.ts';
import { isSkillName } from '../domain/names.ts';
import { fromBase64url } from '../domain/auth.ts';
import { stageRev, STAGE_LIMITS, type RevFile } from '../domain/staged-rev.ts';
import { canList, canRead, canWrite } from './access.ts';
import type { Stores } from './bindings.ts';
import type { Env } from './env.ts';
import { fail, json } from './http.ts';
import type { AuthedRequest } from './tenant-auth.ts';

export const DEFAULT_OBJECT_MAX_BYTES = 1024 * 1024;
const LIST_PAGE = 1000;
const CHANGES_PAGE = 500;

function keyOf(url: URL): string | Response {
  const key = url.searchParams.get('key') ?? '';
  try {
    assertSafeKey(key);
  } catch (err) {
    return fail(400, `key: ${(err as Error).message}`);
  }
  return key;
}

/** GET and HEAD /v1/object?key=K: an object the tenant may read. */
export async function readObject(req: Request, url: URL, auth: AuthedRequest, { blobs }: Stores): Promise<Response> {
  const key = keyOf(url);
  if (key instanceof Response) return key;
  if (!canRead(auth.tenant, key)) return fail(403, `${key}: tenant ${auth.tenant} may not read it`);
  if (req.method === 'HEAD') {
    const info = await blobs.head(key);
    return info ? new Response(null, { status: 200, headers: objectHeaders(info) }) : new Response(null, { status: 404 });
  }
  const info = await blobs.head(key);
  const bytes = info ? await blobs.get(key) : null;
  if (!info || !bytes) return fail(404, `no object ${key}`);
  return new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { ...objectHeaders({ ...info, size: bytes.length }), 'content-type': 'application/octet-stream' } });
}

function objectHeaders(info: BlobInfo): Record<string, string> {
  return { 'x-snappy-size': String(info.size), ...(info.etag ? { etag: `"${info.etag.replace(/"/g, '')}"` } : {}), 'cache-control': 'no-store' };
}

/**
 * PUT /v1/object?key=K: one of the tenant's own pages, files or briefs, with `If-None-Match: *`
 * (create-only) or `If-Match: <etag>` (over the version this machine last saw). 412 when the
 * condition does not hold; the change goes into the feed.
 */
export async function writeObject(url: URL, req: Request, auth: AuthedRequest, { blobs }: Stores, maxBytes: number, onPage?: PageListener): Promise<Response> {
  const key = keyOf(url);
  if (key instanceof Response) return key;
  const refused = canWrite(auth.tenant, key);
  if (refused) return fail(403, refused);
  if (auth.body.length > maxBytes) return fail(413, `${auth.body.length} bytes: an object is at most ${maxBytes} bytes`);
  const ifNoneMatch = req.headers.get('if-none-match');
  const ifMatch = req.headers.get('if-match');
  const opts = ifNoneMatch === '*' ? { ifAbsent: true } : ifMatch ? { ifMatch: ifMatch.replace(/^W\//, '').replace(/"/g, '') } : {};
  const ok = await blobs.put(key, auth.body, opts);
  if (!ok) return fail(412, `${key}: the condition did not hold (${ifNoneMatch === '*' ? 'it exists' : 'it changed since this machine last saw it'})`);
  const info = await blobs.head(key);
  const kind: FeedEntry['kind'] = key.startsWith(Remote.briefsPrefix) ? 'brief' : key.includes('/skills/') ? 'page' : 'file';
  await appendFeed(blobs, { kind, keys: [key], ...(kind === 'brief' ? {} : { tenant: auth.tenant }) });
  // The push itself is the moment a tenant adopts a watched page: the tick would only see it later.
  const page = onPage && kind === 'page' ? pageSkillOf(auth.tenant, key) : null;
  if (page) await onPage!(auth.tenant, page, auth.body);
  return json({ ok: true, key, etag: info?.etag ?? null, size: info?.size ?? auth.body.length });
}

/** Told of every page a tenant pushed: (tenant, skill, bytes). */
export type PageListener = (tenant: string, skill: string, bytes: Uint8Array) => Promise<unknown>;

/** The skill of `snappy-tenants/<tenant>/skills/<skill>.md`, else null. */
function pageSkillOf(tenant: string, key: string): string | null {
  const prefix = Remote.tenantSkillsPrefix(tenant);
  if (!key.startsWith(prefix) || !key.endsWith('.md')) return null;
  const skill = key.slice(prefix.length, -'.md'.length);
  return isSkillName(skill) ? skill : null;
}

/** GET /v1/objects?prefix=P&after=K: one page of a listing the tenant may see. */
export async function listObjects(url: URL, auth: AuthedRequest, { blobs }: Stores): Promise<Response> {
  const prefix = url.searchParams.get('prefix') ?? '';
  const after = url.searchParams.get('after') ?? '';
  if (!canList(auth.tenant, prefix)) return fail(403, `prefix ${JSON.stringify(prefix)}: tenant ${auth.tenant} may not list it`);
  if (after && !after.startsWith(prefix)) return fail(400, 'after: must start with the prefix');
  const objects: BlobInfo[] = [];
  let more = false;
  for await (const o of blobs.list(prefix, after ? { startAfter: after } : {})) {
    if (objects.length >= LIST_PAGE) {
      more = true;
      break;
    }
    objects.push(o);
  }
  return json({ ok: true, objects, more, next: more ? objects[objects.length - 1]!.key : null });
}

/**
 * POST /v1/stage: one new staged rev, all its files in one JSON body
 * `{skill, rev, files: [{name, data (base64url)}]}`. Refused unless the page hashes to the rev
 * id and every name is valid; the manifest and files are written create-only.
 */
export async function stage(auth: AuthedRequest, stores: Stores): Promise<Response> {
  let body: { skill?: unknown; rev?: unknown; files?: unknown };
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(auth.body));
  } catch {
    return fail(400, 'body must be JSON: {skill, rev, files: [{name, data}]}');
  }
  if (typeof body.skill !== 'string' || typeof body.rev !== 'string' || !Array.isArray(body.files)) return fail(400, 'body must be {skill, rev, files: [{name, data}]}');
  if (body.files.length > STAGE_LIMITS.files) return fail(413, `${body.files.length} files: at most ${STAGE_LIMITS.files} in one rev`);
  const files: RevFile[] = [];
  for (const [i, f] of body.files.entries()) {
    const name = (f as { name?: unknown })?.name;
    const data = (f as { data?: unknown })?.data;
    const bytes = typeof data === 'string' ? fromBase64url(data) : null;
    if (typeof name !== 'string' || !bytes) return fail(400, `files[${i}]: expected {name, data: base64url}`);
    files.push({ name, bytes });
  }
  const r = await stageRev(stores.blobs, body.skill, body.rev, files);
  if (!r.ok) return fail(r.conflict ? 409 : 400, `${body.skill}:${body.rev}: ${r.reason}`);
  if (r.created) await appendFeed(stores.blobs, { kind: 'staged', keys: files.map((f) => Remote.staged(body.skill as string, body.rev as string, f.name)) });
  return json({ ok: true, skill: body.skill, rev: body.rev, created: r.created, files: files.length }, r.created ? 201 : 200);
}

/**
 * GET /v1/changes?after=C: what changed since the cursor that this tenant may see, with each
 * object's current size and etag, and folders to take whole (a promotion replaced them).
 * Without a cursor: `{reset: true}` and a fresh cursor; the caller lists what it needs once.
 */
export async function changes(url: URL, auth: AuthedRequest, { blobs }: Stores, now = Date.now()): Promise<Response> {
  const after = url.searchParams.get('after') ?? '';
  if (!after) return json({ ok: true, reset: true, objects: [], folders: [], cursor: trailCursor(Remote.feedPrefix, now - FEED_SKEW_MS), more: false });
  if (!/^snappy-feed\/\d{10}\/[0-9a-z-]+$/.test(after)) return fail(400, `after: ${JSON.stringify(after)} is not a cursor this route returned`);
  const keys = new Set<string>();
  const folders = new Set<string>();
  let last = after;
  let n = 0;
  let more = false;
  for await (const o of listTimeOrdered(blobs, Remote.feedPrefix, after, now)) {
    if (n >= CHANGES_PAGE) {
      more = true;
      break;
    }
    last = o.key;
    n++;
    const raw = await blobs.get(o.key);
    if (!raw) continue;
    let e: FeedEntry;
    try {
      e = JSON.parse(new TextDecoder().decode(raw)) as FeedEntry;
    } catch {
      continue; // a torn or foreign entry: it is a hint, skip it
    }
    if (e.tenant && e.tenant !== auth.tenant) continue;
    for (const k of e.keys ?? []) if (typeof k === 'string' && canRead(auth.tenant, k)) keys.add(k);
    if (typeof e.folder === 'string' && canList(auth.tenant, e.folder)) folders.add(e.folder);
  }
  const objects: BlobInfo[] = [];
  for (const k of keys) {
    const info = await blobs.head(k);
    if (info) objects.push(info);
  }
  const whole: { folder: string; objects: BlobInfo[] }[] = [];
  for (const f of folders) {
    const list: BlobInfo[] = [];
    for await (const o of blobs.list(f)) list.push(o);
    whole.push({ folder: f, objects: list });
  }
  return json({ ok: true, reset: false, objects, folders: whole, cursor: nextCursor(Remote.feedPrefix, after, last, now, more), more });
}
