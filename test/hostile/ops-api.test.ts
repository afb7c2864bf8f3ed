import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { stageRev } from '../plugins/quorum/fleet.ts';
import { BASE, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, r2Of, startWorker } from '../worker/helpers.ts';
import { fuzzSeed, runs } from '../helpers/seed.ts';

// Hostile requests to /snappy-ops/api/... in real workerd: tokens, names, methods, bodies.
// Afterwards the bucket and KV are audited: nothing may exist outside the keys the API owns.
const seed = fuzzSeed('hostile/ops-api', 0x5eed_0003);
let mf: Miniflare;
let blobs: R2BlobStore;
let rev = '';
let before: Set<string>;

test.before(async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  blobs = new R2BlobStore(await r2Of(mf));
  rev = await stageRev(blobs, 'summarize', '---\nbase_rev: x\n---\nSummarize, briefly.\n', { 'examples.md': 'e' });
  before = new Set(await bucketKeys());
});
test.after(async () => {
  await mf?.dispose();
});

async function bucketKeys(): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list('')) out.push(o.key);
  return out;
}

// Path segments, as they appear in the URL (some percent-encoded, some malformed on purpose).
const HOSTILE_SEGMENTS = ['..', '%2e%2e', '%2E%2E', '.', '%2F', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '%00', 'a%00b', '%E0%A4%A', '%ZZ', '%', '%C3%A4', '..%5C..', 'x'.repeat(5000), '%2e%2e%2f%2e%2e%2fsnappy-kv', 'summarize%3A' , 'SUMMARIZE', 'summarize.', '0123456789AB', '0123456789a', '-', '%20', '~root', 'C%3A%5Cx', '%F0%9F%92%A5', '%EF%BF%BF', '%ED%A0%80'];
const segment = fc.oneof(fc.constantFrom(...HOSTILE_SEGMENTS), fc.string({ maxLength: 10 }).map(encodeURIComponent), fc.constantFrom('summarize', 'triage'), fc.constant('REV'));
const route = fc.oneof(
  fc.constant(['revs']),
  fc.tuple(segment, segment, fc.constantFrom('approve', 'reject', '..', '%2e%2e', 'delete', 'x'.repeat(300))).map(([s, r, act]) => ['revs', s, r, act]),
  fc.constant(['tenants']),
  segment.map((t) => ['tenants', t]),
  fc.array(segment, { maxLength: 6 }),
);
const STANDARD = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const method = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE') }, { weight: 2, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'BREW') });
const token = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'right' as const, h: `Bearer ${OPS_TOKEN}` }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const, h: '' }) },
  { weight: 2, arbitrary: fc.oneof(
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), maxLength: 40 }).map((t) => `Bearer ${t}`),
    fc.constantFrom(`Bearer ${OPS_TOKEN}x`, `Bearer ${OPS_TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`ops:${OPS_TOKEN}`).toString('base64')}`, OPS_TOKEN, `Bearer ${OPS_TOKEN.toUpperCase()}`, 'Bearer', `Token ${OPS_TOKEN}`, `Bearer ${'a'.repeat(10_000)}`),
  ).map((h) => ({ kind: 'wrong' as const, h })) },
);
const str = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('../../etc/passwd', '/abs', 'a\u0000b', 'x'.repeat(2000), '', 'op', '0123456789ab', 'f'.repeat(64), '<script>alert(1)</script>') },
  { weight: 6, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(70_000)) },
);
const body = fc.option(
  fc.oneof(
    fc.record({ tenant: str, ingestKey: str, by: str, reason: str }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.constant(JSON.stringify({ by: 'op', reason: 'r'.repeat(70_000) })),
  ),
  { freq: 3 },
);

test('property: tokens, ../ and NUL and over-long names, unknown methods: never 5xx, never 200 without the token, 4xx names the problem, no write outside the API\'s keys', async () => {
  const tally: Record<string, number> = {};
  let client = 0;
  await fc.assert(
    fc.asyncProperty(route, method, token, body, (parts, m, tok, b) => one(parts, m, tok, b).catch((err) => {
      console.error(`case failed: ${(err as Error).message}`);
      throw err;
    })),
    { seed, numRuns: runs(500), endOnFailure: true },
  );
  async function one(parts: readonly string[], m: string, tok: { kind: string; h: string }, b: string | null): Promise<void> {
      // Each case as its own client: the lockout after ten wrong tokens has a test of its own.
      const from = { 'cf-connecting-ip': `10.0.${(++client >> 8) & 255}.${client & 255}` };
      const path = parts.map((p) => (p === 'REV' ? rev : p)).join('/');
      const url = `${BASE}/snappy-ops/api/${path}`;
      const hasBody = b !== null && m !== 'GET' && m !== 'HEAD';
      let res: Awaited<ReturnType<typeof mf.dispatchFetch>>;
      try {
        res = await mf.dispatchFetch(url, { method: m, headers: { ...from, ...(tok.h ? { authorization: tok.h } : {}) }, ...(hasBody ? { body: b } : {}) });
      } catch (err) {
        // A refusal sent before a large body is fully uploaded can reset the upload (an HTTP
        // race, seen with bodies over 64 KiB): allowed, as long as the Worker stays healthy.
        assert.ok(hasBody && b!.length > 64 * 1024, `client error ${(err as Error).message} on ${m} /${path.slice(0, 200)}`);
        const probe = await mf.dispatchFetch(`${BASE}/snappy-ops/api/revs`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
        assert.is(probe.status, 200, 'the Worker still answers after a reset upload');
        await probe.text();
        tally['upload-reset'] = (tally['upload-reset'] ?? 0) + 1;
        return;
      }
      const raw = await res.text();
      const where = `${tok.kind} ${m} /${path.slice(0, 200)}: ${res.status} ${raw.slice(0, 300)}`;
      tally[`${tok.kind}:${res.status}`] = (tally[`${tok.kind}:${res.status}`] ?? 0) + 1;
      if (!STANDARD.includes(m) && res.status === 501 && raw.includes('Unrecognized request method')) {
        // workerd itself refuses a method it does not know, before the Worker runs.
        tally[`workerd-501:${m}`] = (tally[`workerd-501:${m}`] ?? 0) + 1;
        return;
      }
      assert.ok(res.status < 500, `5xx: ${where}`);
      // `..` and `%2e%2e` segments are resolved by URL parsing before any routing: such a request
      // may leave /snappy-ops/api/ altogether, and then must simply find nothing there.
      const inApi = new URL(url).pathname.startsWith('/snappy-ops/api/');
      if (!inApi) {
        tally['left-api'] = (tally['left-api'] ?? 0) + 1;
        assert.ok([401, 403, 404, 405].includes(res.status), `outside the API: ${where}`);
      } else if (tok.kind === 'none') assert.is(res.status, 401, where);
      else if (tok.kind === 'wrong') assert.is(res.status, 403, where);
      if (res.status >= 400 && m !== 'HEAD') assert.type((JSON.parse(raw) as { error?: string }).error, 'string', where);
  }
  console.log(`[hostile/ops-api] outcomes ${JSON.stringify(tally)}`);
  assert.ok((tally['right:200'] ?? 0) > 0 && (tally['right:400'] ?? 0) > 0 && (tally['right:404'] ?? 0) > 0, `the cases reach the API: ${JSON.stringify(tally)}`);

  // The audit: new bucket keys only from promoting or rejecting the one staged rev.
  const allowed = [`snappy-os/skills/summarize/`, `snappy-os/changelog/summarize/${rev}.json`, `snappy-quorum/done/summarize/${rev}.json`, `snappy-quorum/rejected/summarize/${rev}.json`, `snappy-os/changelog.ndjson`, `snappy-manifests/summarize/${rev}.json`, 'snappy-feed/', 'snappy-registry/'];
  for (const k of await bucketKeys()) {
    if (before.has(k)) continue;
    assert.ok(allowed.some((p) => k === p || (p.endsWith('/') && k.startsWith(p))), `unexpected bucket key ${JSON.stringify(k)}`);
    assert.not.ok(k.includes('..') || k.includes('\u0000') || k.startsWith('/'), `unsafe key ${JSON.stringify(k)}`);
  }
  const kv = await mf.getKVNamespace('SNAPPY_KV');
  for (const k of (await kv.list()).keys) assert.ok(/^tenant:[0-9a-f]{12}$/.test(k.name) || k.name === 'last_quorum_promotion' || k.name === 'canonical:summarize', `unexpected KV key ${JSON.stringify(k.name)}`);
});

test('a malformed percent-escape in a path is a 400 naming it, not a 500 (/snappy-ops/api and /v1/canonical)', async () => {
  for (const p of ['/snappy-ops/api/revs/%E0%A4%A/0123456789ab/approve', '/snappy-ops/api/tenants/%ZZ', '/v1/canonical/%E0%A4%A']) {
    const res = await mf.dispatchFetch(`${BASE}${p}`, { method: p.includes('approve') ? 'POST' : p.includes('tenants') ? 'DELETE' : 'GET', headers: { authorization: `Bearer ${OPS_TOKEN}` } });
    assert.is(res.status, 400, p);
    assert.match(((await res.json()) as { error: string }).error, 'malformed percent-encoding');
  }
});

test.run();
