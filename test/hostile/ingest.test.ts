import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { formatAggRow } from '../../domain/agg-row.ts';
import { AUTH_VERSION, bodyHashOf, HEADER_AUTH, HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, tenantSigner } from '../../domain/auth.ts';
import { row, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, BASE, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, startWorker } from '../worker/helpers.ts';
import { fuzzSeed, runs } from '../helpers/seed.ts';

// Hostile requests to POST /v1/ingest in real workerd. The oracle below is written from
// docs/worker.md ("Ingest": checks in order, nothing written unless all pass), and the
// bucket is audited afterwards: only batches the oracle accepted may be there.
const seed = fuzzSeed('hostile/ingest', 0x5eed_0002);
const MAX = 20_000;
let mf: Miniflare;
let a: Tenant;
let b: Tenant;
let stranger: Tenant;

test.before(async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_INGEST_MAX_BYTES: String(MAX) });
  [a, b, stranger] = await Promise.all([tenant('hostile-a'), tenant('hostile-b'), tenant('hostile-stranger')]);
  await admit(mf, a);
  await admit(mf, b);
});
test.after(async () => {
  await mf?.dispose();
});

// --- an aggregate-row check written from the locked schema v1 (docs/contract.md §6), independent of domain/agg-row.ts
const ORDER = ['_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'cost_usd_cents', 'ok'];
const SKILL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const skillOk = (s: string) => SKILL.test(s) && s !== '..' && !s.endsWith('.');
function aggLineOk(line: string): boolean {
  let o: any;
  try {
    o = JSON.parse(line);
  } catch {
    return false;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const ks = Object.keys(o);
  if (ks.join() !== ORDER.filter((k) => k in o).join() || ks.some((k) => !ORDER.includes(k))) return false;
  if (ORDER.some((k) => k !== 'cost_usd_cents' && !(k in o))) return false;
  if (o._v !== 1 || typeof o.ts !== 'string' || typeof o.skill !== 'string' || typeof o.run_id !== 'string' || typeof o.tenant !== 'string') return false;
  const t = Date.parse(o.ts);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(o.ts) || !Number.isFinite(t) || new Date(t).toISOString() !== o.ts) return false;
  const [skill, rev, ...more] = o.skill.split(':');
  if (more.length || !skillOk(skill) || (rev !== undefined && !/^[0-9a-f]{12}$/.test(rev))) return false;
  if (typeof o.score !== 'number' || !(o.score >= 0 && o.score <= 1)) return false;
  if (!/^[0-9a-f]{16}$/.test(o.run_id) || !/^[0-9a-f]{12}$/.test(o.tenant) || typeof o.ok !== 'boolean') return false;
  if ('cost_usd_cents' in o && !(Number.isSafeInteger(o.cost_usd_cents) && o.cost_usd_cents >= 0)) return false;
  return true;
}

// --- generators
type Mutation =
  | { kind: 'unknownKey'; key: string }
  | { kind: 'missingKey'; key: string }
  | { kind: 'badSkill'; skill: string }
  | { kind: 'otherTenant'; other: 'peer' | 'random'; hex: string }
  | { kind: 'notJson'; text: string }
  | { kind: 'badScore'; text: string }
  | { kind: 'rawRunId' }
  | { kind: 'badTs'; ts: string }
  | { kind: 'outOfOrder' }
  | { kind: 'badUtf8'; bytes: number[]; at: number }
  | { kind: 'huge' };

const mutation = fc.oneof(
  fc.constantFrom('machine', 'prompt', '__proto__', '../x', '_V', '', 'constructor', 'tenant ').map((key) => ({ kind: 'unknownKey' as const, key })),
  fc.constantFrom('_v', 'ts', 'skill', 'score', 'run_id', 'tenant', 'ok').map((key) => ({ kind: 'missingKey' as const, key })),
  fc.constantFrom('../etc/passwd', '..', '/abs', 'a/b', '.hidden', 'a.', 'x'.repeat(129), 'a\u0000b', 'a:0123', 'a:../0123456789', 'C:\\x', '', 'ä', '%2e%2e').map((skill) => ({ kind: 'badSkill' as const, skill })),
  fc.tuple(fc.constantFrom('peer' as const, 'random' as const), fc.stringMatching(/^[0-9a-f]{12}$/)).map(([other, hex]) => ({ kind: 'otherTenant' as const, other, hex })),
  fc.constantFrom('{"_v":1,', 'NaN', '{]', '{"_v":1}}', "{'_v':1}", '\u0000', '{"_v":1,"ts":"x"', 'undefined').map((text) => ({ kind: 'notJson' as const, text })),
  fc.constantFrom('1.5', '-0.1', '"0.5"', '1e309', 'null', 'true', '[0.5]').map((text) => ({ kind: 'badScore' as const, text })),
  fc.constant({ kind: 'rawRunId' as const }),
  fc.constantFrom('2024-02-30T00:00:00.000Z', '2024-01-01T00:00:00Z', '2024-01-01', '../2024-01-01T00:00:00.000Z', '').map((ts) => ({ kind: 'badTs' as const, ts })),
  fc.constant({ kind: 'outOfOrder' as const }),
  fc.tuple(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80]), fc.nat(80)).map(([bytes, at]) => ({ kind: 'badUtf8' as const, bytes, at })),
  fc.constant({ kind: 'huge' as const }),
) as fc.Arbitrary<Mutation>;

type Headers = { kind: 'ok' } | { kind: 'forged' } | { kind: 'stranger' } | { kind: 'stale'; ms: number } | { kind: 'missing'; which: string[] } | { kind: 'garbledTenant'; v: string } | { kind: 'garbledTs'; v: string } | { kind: 'garbledSig'; v: string } | { kind: 'replay'; pick: number };
const headers: fc.Arbitrary<Headers> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'ok' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'forged' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stranger' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(-3_600_000, -330_000, 330_000, 86_400_000 * 400).map((ms) => ({ kind: 'stale' as const, ms })) },
  { weight: 1, arbitrary: fc.subarray([HEADER_TENANT, HEADER_TIMESTAMP, HEADER_SIGNATURE], { minLength: 1 }).map((which) => ({ kind: 'missing' as const, which })) },
  { weight: 1, arbitrary: fc.constantFrom('../../etc', 'ABCDEF012345', ' abcdef012345', 'abcdef01234', 'abcdef0123456', 'g'.repeat(12), '%2e%2e%2f', 'x'.repeat(5000)).map((v) => ({ kind: 'garbledTenant' as const, v })) },
  { weight: 1, arbitrary: fc.constantFrom('1e12', '-1', 'abc', '0x1', '99999999999999999', '1.5', 'NaN', ' ', '+1714557600000').map((v) => ({ kind: 'garbledTs' as const, v })) },
  { weight: 1, arbitrary: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.constantFrom('', 'zz', 'ab'.repeat(33), '../'.repeat(20))).map((v) => ({ kind: 'garbledSig' as const, v })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'replay' as const, pick })) },
);

type Body =
  | { kind: 'rows'; signer: 'a' | 'b'; n: number; runs: number[]; mut: Mutation | null; at: number; blank: boolean; cents: boolean }
  | { kind: 'text'; signer: 'a'; s: string }
  | { kind: 'bytes'; signer: 'a'; u: Uint8Array };
const body = fc.oneof(
  { weight: 8, arbitrary: fc.record({ signer: fc.constantFrom('a', 'b'), n: fc.integer({ min: 1, max: 5 }), runs: fc.array(fc.nat(5000), { minLength: 5, maxLength: 5 }), mut: fc.option(mutation, { freq: 3 }), at: fc.nat(4), blank: fc.boolean(), cents: fc.boolean() }).map((g) => ({ kind: 'rows' as const, ...g })) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.jsonValue().map((v) => JSON.stringify(v))).map((s) => ({ kind: 'text' as const, signer: 'a' as const, s })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => ({ kind: 'bytes' as const, signer: 'a' as const, u })) },
) as fc.Arbitrary<Body>;

/** The body's bytes, and what the oracle knows about its lines. */
function build(g: Body): { bytes: Uint8Array; signer: Tenant; mut?: Mutation; mutLine?: number } {
  const signer = g.signer === 'a' ? a : b;
  if (g.kind === 'text') return { bytes: Buffer.from(g.s), signer };
  if (g.kind === 'bytes') return { bytes: g.u, signer };
  const lines: (string | Buffer)[] = [];
  for (let i = 0; i < g.n; i++) {
    const r = row(signer, 'summarize', (g.runs[i]! % 101) / 100, `hostile-${g.runs[i]}`);
    if (g.cents) r.cost_usd_cents = g.runs[i]! % 7;
    lines.push(formatAggRow(r));
  }
  let mutLine: number | undefined;
  const m = g.mut ?? undefined;
  if (m) {
    const i = g.at % g.n;
    lines[i] = mutate(lines[i] as string, m, signer);
    mutLine = i + 1 + (g.blank ? 1 : 0);
  }
  if (g.blank) lines.unshift('   ');
  const bytes = Buffer.concat(lines.flatMap((l) => [Buffer.from(l as string), Buffer.from('\n')]));
  return { bytes, signer, ...(m ? { mut: m } : {}), ...(mutLine ? { mutLine } : {}) };
}

function mutate(line: string, m: Mutation, signer: Tenant): string | Buffer {
  const o = JSON.parse(line) as Record<string, unknown>;
  const text = (obj: Record<string, unknown>) => JSON.stringify(obj);
  switch (m.kind) {
    case 'unknownKey': return `${line.slice(0, -1)},${JSON.stringify(m.key)}:1}`;
    case 'missingKey': delete o[m.key]; return text(o);
    case 'badSkill': o.skill = m.skill; return text(o);
    case 'otherTenant': o.tenant = m.other === 'peer' ? (signer === a ? b : a).id : m.hex === signer.id ? 'ffffffffffff' : m.hex; return text(o);
    case 'notJson': return m.text;
    case 'badScore': return line.replace(/"score":[^,]+/, `"score":${m.text}`);
    case 'rawRunId': o.run_id = 'my-private-run-1'; return text(o);
    case 'badTs': o.ts = m.ts; return text(o);
    case 'outOfOrder': { const { ok, ...rest } = o; return text({ ok, ...rest }); }
    case 'badUtf8': { const buf = Buffer.from(line); const p = m.at % buf.length; return Buffer.concat([buf.subarray(0, p), Buffer.from(m.bytes), buf.subarray(p)]); }
    case 'huge': return `${line.slice(0, -1)},"pad":"${'p'.repeat(MAX)}"}`;
  }
}

type Want = { status: number; error?: RegExp; or?: number };

/** The refusal the headers alone earn (missing, garbled, outside the window, not admitted), if any. */
function headerRefusal(h: Record<string, string>): Want | undefined {
  const miss = [HEADER_TENANT, HEADER_TIMESTAMP, HEADER_SIGNATURE].filter((k) => !h[k]);
  if (miss.length) return { status: 401, error: new RegExp(`missing header\\(s\\) ${miss.join(', ')}`) };
  if (!/^[0-9a-f]{12}$/.test(h[HEADER_TENANT]!)) return { status: 401, error: /x-snappy-tenant: .* is not a tenant id/ };
  if (!/^\d{1,16}$/.test(h[HEADER_TIMESTAMP]!)) return { status: 401, error: /x-snappy-timestamp: .* is not epoch milliseconds/ };
  if (Math.abs(Date.now() - Number(h[HEADER_TIMESTAMP])) > 300_000 - 5_000) return { status: 401, error: /outside the ±300 s window/ };
  const tenantId = h[HEADER_TENANT]!;
  if (tenantId !== a.id && tenantId !== b.id) return { status: 403, error: /is not admitted/ };
  return undefined;
}

/** What the Worker must answer: status and a pattern the error must match (docs/worker.md "Ingest"). */
function expect(bytes: Uint8Array, sent: Record<string, string>, signedBy: Tenant | null, mut?: Mutation, mutLine?: number): Want {
  // HTTP strips a header value's surrounding whitespace on the way in.
  const h = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, v.trim()]));
  const early = headerRefusal(h);
  // Over the limit: 413 from content-length before anything else, or from the body read after
  // the header and admission checks when the length is not declared (dispatchFetch streams).
  if (bytes.length > MAX) return early ? { ...early, or: 413 } : { status: 413, error: /larger than the limit of 20000 bytes/ };
  if (early) return early;
  const tenantId = h[HEADER_TENANT]!;
  // The signature covers the body's bytes, so it is checked before the body is read as text.
  if (signedBy?.id !== tenantId) return { status: 403, error: /x-snappy-signature does not match/ };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { status: 400, error: /not valid UTF-8/ };
  }
  const lines = text.split('\n');
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.trim()) continue;
    if (!aggLineOk(l)) {
      if (mutLine !== undefined) assert.is(i + 1, mutLine, 'the oracle and the generator agree on the bad line');
      return { status: 400, error: new RegExp(`^line ${i + 1}: ${reasonOf(mut)}`) };
    }
    const t = JSON.parse(l).tenant;
    if (t !== tenantId) return { status: 403, error: new RegExp(`^line ${i + 1}: the row names tenant ${t} but the batch is signed by tenant ${tenantId}`) };
    rows++;
  }
  if (!rows) return { status: 400, error: /no rows/ };
  return { status: 201 };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function reasonOf(m?: Mutation): string {
  if (!m) return '';
  switch (m.kind) {
    case 'unknownKey': return `.*unknown key ${esc(JSON.stringify(m.key))}`;
    case 'missingKey': return `.*missing key "${m.key}"`;
    case 'badSkill': return m.skill === '' ? '.*"skill"' : '.*"skill"';
    case 'notJson': return 'not (valid JSON|a JSON object)';
    case 'badScore': return '.*"score"';
    case 'rawRunId': return '.*"run_id"';
    case 'badTs': return '.*"ts"';
    case 'outOfOrder': return '.*keys out of schema order';
    default: return '';
  }
}

interface Sent { bytes: Uint8Array; h: Record<string, string> }

test('property: random bodies, forged tenants, stale and replayed signatures, garbled headers: never 5xx, every refusal names its reason, only valid batches stored', async () => {
  const accepted = new Map<string, Uint8Array>();
  const replayable: (Sent & { first: string })[] = [];
  const tally: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(body, headers, (g, hk) => one(g, hk).catch((err) => {
      // fast-check keeps the cause out of the message uvu prints.
      console.error(`case failed: ${(err as Error).message}`);
      throw err;
    })),
    { seed, numRuns: runs(400), endOnFailure: true },
  );
  async function one(g: Body, hk: Headers): Promise<void> {
      let { bytes, signer, mut, mutLine } = build(g);
      let h: Record<string, string>;
      let signedBy: Tenant | null = signer;
      let replayOf: string | undefined;
      const now = Date.now();
      const bodyHash = await bodyHashOf(bytes);
      const sign = async (t: Tenant, tenantHeader: string, ts: number) => (await tenantSigner(t.masterKey, tenantHeader)).sign({ method: 'POST', path: '/v1/ingest', query: '', bodyHash, timestamp: ts });
      if (hk.kind === 'replay' && replayable.length) {
        const r = replayable[hk.pick % replayable.length]!;
        ({ bytes, h } = r);
        replayOf = r.first;
        signedBy = a.id === h[HEADER_TENANT] ? a : b;
        mut = undefined;
        mutLine = undefined;
      } else {
        h = { [HEADER_AUTH]: AUTH_VERSION, [HEADER_TENANT]: signer.id, [HEADER_TIMESTAMP]: String(now), [HEADER_SIGNATURE]: await sign(signer, signer.id, now) };
        if (hk.kind === 'forged') {
          // Claims the peer's tenant with the signer's own key.
          const peer = signer === a ? b : a;
          h[HEADER_TENANT] = peer.id;
          h[HEADER_SIGNATURE] = await sign(signer, peer.id, now);
        } else if (hk.kind === 'stranger') {
          h[HEADER_TENANT] = stranger.id;
          h[HEADER_SIGNATURE] = await sign(stranger, stranger.id, now);
          signedBy = stranger;
        } else if (hk.kind === 'stale') {
          h[HEADER_TIMESTAMP] = String(now + hk.ms);
          h[HEADER_SIGNATURE] = await sign(signer, signer.id, now + hk.ms);
        } else if (hk.kind === 'missing') for (const k of hk.which) delete h[k];
        else if (hk.kind === 'garbledTenant') h[HEADER_TENANT] = hk.v;
        else if (hk.kind === 'garbledTs') h[HEADER_TIMESTAMP] = hk.v;
        else if (hk.kind === 'garbledSig') {
          h[HEADER_SIGNATURE] = hk.v;
          signedBy = null;
        }
      }
      const want = expect(bytes, h, signedBy, mut, mutLine);
      const res = await mf.dispatchFetch(`${BASE}/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...h }, body: bytes });
      const raw = await res.text();
      const where = `${hk.kind} ${g.kind} ${mut?.kind ?? ''}: ${res.status} ${raw.slice(0, 300)}`;
      assert.ok(res.status < 500, `5xx: ${where}`);
      const out = JSON.parse(raw) as { error?: string; duplicate?: boolean; key?: string };
      const id = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      const key = `snappy-agg/${h[HEADER_TENANT]}/${id}.ndjson`;
      if (replayOf !== undefined && want.status === 201) {
        // The very same signed request again: the first answer, word for word, and nothing written.
        assert.is(res.headers.get('x-snappy-replay'), '1', where);
        assert.is(raw, replayOf, where);
        tally.replayed = (tally.replayed ?? 0) + 1;
      } else if (want.status === 201) {
        const dup = accepted.has(key);
        assert.is(res.status, dup ? 200 : 201, where);
        assert.is(out.duplicate, dup, where);
        assert.is(out.key, key, where);
        accepted.set(key, bytes);
        replayable.push({ bytes, h, first: raw });
        tally[dup ? 'duplicate' : 'stored'] = (tally[dup ? 'duplicate' : 'stored'] ?? 0) + 1;
      } else {
        assert.type(out.error, 'string', where);
        if (want.or === res.status) assert.match(out.error!, /larger than the limit of 20000 bytes/, where);
        else {
          assert.is(res.status, want.status, where);
          assert.match(out.error!, want.error!, where);
        }
        tally[String(res.status)] = (tally[String(res.status)] ?? 0) + 1;
      }
  }
  console.log(`[hostile/ingest] outcomes ${JSON.stringify(tally)}`);
  // The audit: the bucket holds exactly the accepted batches, each line valid and of its tenant.
  const bucket = await mf.getR2Bucket('SNAPPY_BUCKET');
  const stored = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: 'snappy-agg/', ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) stored.set(o.key, await (await bucket.get(o.key))!.text());
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  assert.equal([...stored.keys()].sort(), [...accepted.keys()].sort(), 'stored batches = accepted batches');
  for (const [k, body] of stored) {
    const t = k.split('/')[1];
    for (const l of body.split('\n')) if (l.trim()) {
      assert.ok(aggLineOk(l), `invalid row stored in ${k}: ${l}`);
      assert.is(JSON.parse(l).tenant, t, `row of another tenant stored in ${k}`);
    }
  }
  assert.ok((tally.stored ?? 0) > 10 && (tally['400'] ?? 0) > 10 && (tally['401'] ?? 0) > 10 && (tally['403'] ?? 0) > 10 && (tally['413'] ?? 0) > 0, `the cases reach every outcome: ${JSON.stringify(tally)}`);
});

test('a streamed body without content-length over the limit: 413 after admission, nothing stored', async () => {
  const before = (await (await mf.getR2Bucket('SNAPPY_BUCKET')).list({ prefix: 'snappy-agg/' })).objects.length;
  const line = `${formatAggRow(row(a, 'summarize', 0.5, 'stream'))}\n`;
  const chunk = new TextEncoder().encode(line.repeat(100));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent > MAX * 3) c.close();
      else {
        sent += chunk.length;
        c.enqueue(chunk);
      }
    },
  });
  const ts = Date.now();
  const signature = await (await tenantSigner(a.masterKey, a.id)).sign({ method: 'POST', path: '/v1/ingest', query: '', bodyHash: await bodyHashOf('x'), timestamp: ts });
  const res = await mf.dispatchFetch(`${BASE}/v1/ingest`, { method: 'POST', headers: { [HEADER_AUTH]: AUTH_VERSION, [HEADER_TENANT]: a.id, [HEADER_TIMESTAMP]: String(ts), [HEADER_SIGNATURE]: signature }, body: stream, duplex: 'half' } as any);
  assert.is(res.status, 413);
  assert.match(((await res.json()) as { error: string }).error, 'larger than the limit');
  assert.is((await (await mf.getR2Bucket('SNAPPY_BUCKET')).list({ prefix: 'snappy-agg/' })).objects.length, before);
});

test.run();
