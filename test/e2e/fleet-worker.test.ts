// The whole loop in Worker mode, the deployed shape: ONE Worker in real workerd (miniflare) with
// its R2 bucket and KV, three tenants (one with two machines) driven through the real CLI as
// processes. A tenant's config holds nothing but `worker.url` (and the regen agent to run); its
// environment holds its master key and no bucket credentials: every push and pull goes through
// the Worker's signed API. It checks each item of the design note's "How to verify it's working".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { buildTestWorker, startWorker, r2Of } from '../worker/helpers.ts';
import { CANARY, RAW_RUN_ID, aggregateLines, assertNothingLeaks, makeMachine, rows, runTimes, until, writeFleetConfig, type Machine } from './fleet.ts';

const OPS_TOKEN = 'e2e-ops-token-5c1d0a9e7b3f-8a2e4c6b0d1f3a5c';
// Strong keys (256 bits of base64url), as `ops key` demands: fixed, so runs are comparable.
const MASTER_KEYS = ['tenant-A-5Qm0c8ZrT2vX9kLp4HwB7nJd1sGy6fEa3UuRiOoP', 'tenant-B-Vb2N8xK4qW7eR1tY5uI9oP3aS6dF0gHjLzXcMnQw', 'tenant-C-Hs6Gd3Fa9Jk2Lq5Wz8Xc1Vb4Nm7Qe0RtYuIoPaSd'];

const root = tmpDir('snappy-fleet-worker-');
let mf: Miniflare;
let blobs: R2BlobStore;
let workerUrl = '';
let config = '';
let a1: Machine, a2: Machine, b: Machine, c: Machine;
let tenants: Machine[] = [];
let rev = '';
let billRev = '';
/** Every body the Worker answered with, checked for leaks at the end. */
const responses: { what: string; body: string }[] = [];

async function workerGet(route: string, token?: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${workerUrl}${route}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const body = await res.text();
  responses.push({ what: `GET ${route}`, body });
  return { status: res.status, body, headers: res.headers };
}

async function kvPromotion(): Promise<{ ts: string; skill: string; rev_id: string; tenants: number; runs: number } | null> {
  const v = await (await mf.getKVNamespace('SNAPPY_KV')).get('last_quorum_promotion');
  return v ? JSON.parse(v) : null;
}

async function stagedRevs(skill: string): Promise<string[]> {
  const out = new Set<string>();
  for await (const o of blobs.list(`snappy-os-staging/${skill}/`)) out.add(o.key.split('/')[2]!);
  return [...out];
}

async function bucketText(key: string): Promise<string | null> {
  const b = await blobs.get(key);
  return b ? new TextDecoder().decode(b) : null;
}

async function changelogRows(skill: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list(`${Remote.changelogPrefix}${skill}/`)) if (o.key.includes(id)) out.push((await bucketText(o.key))!);
  return out;
}

/** Operator commands: `snappy ops ...` through the Worker (config worker.url + SNAPPY_OPS_TOKEN, no remote). */
async function ops(args: string[]): Promise<any> {
  const r = await runCli(['ops', ...args, '--json'], { cwd: root, env: { SNAPPY_CONFIG: config, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  if (r.code !== 0) throw new Error(`snappy ops ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout);
  responses.push({ what: `snappy ops ${args.join(' ')}`, body: r.stdout });
  return out;
}

test.before(async () => {
  const port = await freePort();
  // A named token: the Worker knows the operator, and an approval records robert without --by.
  mf = await startWorker(await buildTestWorker(), { OPS_TOKENS: `robert:${OPS_TOKEN}` }, { port });
  blobs = new R2BlobStore(await r2Of(mf));
  workerUrl = `http://127.0.0.1:${port}`;
  config = writeFleetConfig(root, { worker: { url: workerUrl } });
  // No remote, no bucket credentials: only the Worker's URL (config) and the master key (env).
  const env = { FLEET_AGENT_MANUAL: 'billing', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined } as unknown as Record<string, string>;
  // a1 sets no machine id: it makes up its own pseudonym, which is what its briefs carry.
  a1 = makeMachine({ root, name: 'a1', key: MASTER_KEYS[0]!, config, env, skills: ['summarize', 'triage', 'billing'] });
  a2 = makeMachine({ root, name: 'a2', key: MASTER_KEYS[0]!, machine: 'a-ci', config, env });
  b = makeMachine({ root, name: 'b', key: MASTER_KEYS[1]!, machine: 'b-box', config, env });
  c = makeMachine({ root, name: 'c', key: MASTER_KEYS[2]!, machine: 'c-box', config, env });
  tenants = [a1, b, c];
});

test.after(async () => {
  await mf?.dispose();
});

test('each tenant hands its public key to the operator, who admits it through the Worker; the tenants hold no bucket credentials', async () => {
  assert.equal(Object.keys(JSON.parse(readFileSync(config, 'utf8'))).sort(), ['regen', 'worker'], 'a tenant\'s config: the Worker and the regen agent, nothing else');
  for (const m of [...tenants, a2]) assert.equal(Object.keys(m.env).filter((k) => /^AWS_|^SNAPPY_REMOTE$/.test(k) && m.env[k] !== undefined), []);
  const keys = await Promise.all(
    tenants.map(async (m) => {
      const k = await m.json(['ops', 'key']);
      assert.match(k.tenant, /^[0-9a-f]{12}$/);
      const admitted = await ops(['tenants', 'admit', k.tenant, k.publicKey, '--by', 'robert']);
      assert.is(admitted.where, workerUrl, 'ops acts through the Worker');
      assert.is(admitted.tenant.tenant, k.tenant);
      return k;
    }),
  );
  const ids = keys.map((k) => k.tenant as string);
  assert.is(new Set(ids).size, 3, 'three distinct tenants');
  const list = await ops(['tenants', 'list']);
  assert.equal(list.tenants.map((t: { tenant: string }) => t.tenant).sort(), [...ids].sort());
});

test('1. a degrading skill on tenant A drops a marker, the regen agent writes a revision, and the push stages it in the bucket', async () => {
  a1.log(rows('summarize', Array(12).fill(0.95), 'A-sum'));
  a1.log(rows('triage', [0.92, 0.9, 0.91, 0.5, 0.48, 0.5, 0.52, 0.49, 0.5, 0.47, 0.5, 0.5], 'A-tri'));
  await a1.run(['run', 'aggregate']);
  const marker = path.join(a1.state, 'ready', 'triage.ready');
  assert.ok(existsSync(marker), 'the PID loop dropped a marker for the degrading skill');
  assert.is(JSON.parse(readFileSync(marker, 'utf8')).skill, 'triage');
  assert.not.ok(existsSync(path.join(a1.state, 'ready', 'summarize.ready')), 'a healthy skill gets no marker');

  const out = await a1.json(['run', 'push', '--auto']);
  assert.ok(out.ok);
  assert.is(out.reports.push.aggregate.via, 'worker', 'the aggregate batch went through the Worker');
  const revs = await stagedRevs('triage');
  assert.is(revs.length, 1, `one staged rev of triage in the bucket, got ${revs}`);
  rev = revs[0]!;
  assert.match(rev, /^[0-9a-f]{12}$/);
  const page = await bucketText(`snappy-os-staging/triage/${rev}/triage.md`);
  assert.ok(page, `snappy-os-staging/triage/${rev}/triage.md is in the bucket`);
  assert.is(page, readFileSync(path.join(a1.state, 'staging', 'triage', rev, 'triage.md'), 'utf8'));
  assert.match(page!, 'base_rev:');
  assert.not.ok(existsSync(marker), 'the marker is removed once the rev is staged');
  assert.match(a1.id(), /^m-[a-z2-7]{10}$/);
  const brief = readFileSync(path.join(a1.state, 'log', 'regen-queue', `triage.${a1.id()}.md`), 'utf8');
  assert.match(brief, `rev_id: ${rev}`);
  assert.is(await bucketText(`snappy-briefs/${await tenantIdOf(MASTER_KEYS[0]!)}/triage.${a1.id()}.md`), brief, 'the shared brief is in the bucket, under its tenant');
  assert.ok(await blobs.head(Remote.manifest('triage', rev)), 'the Worker froze the rev\'s file manifest');
  const batches: string[] = [];
  for await (const o of blobs.list(Remote.aggregatePrefix)) batches.push(o.key);
  assert.is(batches.length, 1, `the Worker stored A's batch in the bucket: ${batches}`);
});

test('2. the other tenants pull the staged revision, evaluate it, and each push grows the aggregate with the new runs', async () => {
  await Promise.all([b, c, a2].map((m) => m.run(['run', 'pull'])));
  for (const m of [b, c, a2]) {
    assert.ok(existsSync(path.join(m.state, 'staging', 'triage', rev, 'triage.md')), `${m.name} pulled the staged rev`);
  }
  const status = await b.json(['status']);
  assert.match(JSON.stringify(status), rev, "b's status lists the rev waiting for evaluation");
  for (const m of [a1, b]) {
    const before = aggregateLines(m).filter((l) => l.includes(`triage:${rev}`)).length;
    m.log(rows(`triage:${rev}`, [0.9, 0.93], `${m.name}-rev`));
    const out = await m.json(['run', 'push', '--auto']);
    assert.is(out.reports.push.aggregate.via, 'worker');
    const after = aggregateLines(m).filter((l) => l.includes(`triage:${rev}`)).length;
    assert.ok(after >= before + 2, `${m.name}: evals.aggregate.ndjson gained the new runs (${before} -> ${after})`);
  }
  assert.is(await kvPromotion(), null, 'two tenants are not a quorum');
});

test('3. after the third tenant\'s push the revision is canonical within 60 s, last_quorum_promotion says so, and every pull brings the page', async () => {
  const before = aggregateLines(c).filter((l) => l.includes(`triage:${rev}`)).length;
  c.log(rows(`triage:${rev}`, [0.9, 0.93], 'c-rev'));
  const t0 = Date.now();
  const out = await c.json(['run', 'push', '--auto']);
  const pushed = Date.now();
  assert.is(out.reports.push.aggregate.via, 'worker');
  assert.ok(aggregateLines(c).filter((l) => l.includes(`triage:${rev}`)).length >= before + 2, 'c: the aggregate gained the new runs');
  // The Worker evaluates the quorum at ingest (in the background); the cron is the backstop.
  const promo = await until('last_quorum_promotion in the Worker KV', async () => {
    const p = await kvPromotion();
    return p?.rev_id === rev ? p : null;
  }, 60_000, 50);
  const seen = Date.now();
  // The 60 s deadline is a contract measured in `npm run bench`, not asserted here.
  console.log(`    promotion latency: ${seen - pushed} ms after the third push returned (${seen - t0} ms after it started; push took ${pushed - t0} ms)`);
  assert.is(promo.skill, 'triage');
  assert.ok(promo.tenants >= 3, `tenants ${promo.tenants}`);
  assert.ok(promo.runs >= 5, `runs ${promo.runs}`);
  assert.is(await bucketText(`snappy-os/skills/triage/triage.md`), await bucketText(`snappy-os-staging/triage/${rev}/triage.md`), 'the canonical page is the rev');

  // The minute cron fires too: it finds nothing more to do.
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const rowsFor = await changelogRows('triage', rev);
  assert.is(rowsFor.length, 1, 'one changelog row for the promotion');
  assert.is(JSON.parse(rowsFor[0]!).by, 'quorum');

  const status = JSON.parse((await workerGet('/v1/status', OPS_TOKEN)).body);
  assert.is(status.last_quorum_promotion.rev_id, rev, '/v1/status reports the promotion');
  assert.not.ok(status.staged.some((s: { rev: string }) => s.rev === rev), 'a promoted rev is no longer listed as staged');
  const canon = JSON.parse((await workerGet('/v1/canonical/triage')).body);
  assert.is(canon.rev_id, rev);
  assert.is(canon.files['triage.md'], await bucketText(`snappy-os-staging/triage/${rev}/triage.md`));

  await Promise.all([...tenants, a2].map((m) => m.run(['run', 'pull'])));
  for (const m of [...tenants, a2]) {
    const f = path.join(m.state, 'canonical', 'triage', 'triage.md');
    assert.ok(existsSync(f), `${m.name} has the canonical page`);
    assert.is(readFileSync(f, 'utf8'), canon.files['triage.md']);
  }
  // Pulls follow the Worker's change feed: with nothing new, a pull asks twice (the feed and
  // the aggregate) whatever the history; a push with nothing new asks nothing at all.
  const quietPull = await b.json(['run', 'pull']);
  assert.is(quietPull.reports.pull.files, 0);
  assert.is(quietPull.reports.pull.requests, 2, JSON.stringify(quietPull.reports.pull));
  await b.run(['run', 'push']); // sends the adopted canonical page to the tenant's own copy
  const quietPush = await b.json(['run', 'push']);
  assert.is(quietPush.reports.push.files, 0);
  assert.is(quietPush.reports.push.requests, 0, JSON.stringify(quietPush.reports.push));
});

test('4. a revision asking for manual review stays gated whatever the quorum, until approved through the ops API', async () => {
  a1.log(rows('billing', Array(12).fill(0.3), 'A-bill'));
  await a1.run(['run', 'push', '--auto']);
  const revs = await stagedRevs('billing');
  assert.is(revs.length, 1);
  billRev = revs[0]!;
  assert.match((await bucketText(`snappy-os-staging/billing/${billRev}/billing.md`))!, 'manual_review: robert');
  for (const m of tenants) {
    m.log(rows(`billing:${billRev}`, [0.97, 0.96], `${m.name}-bill`));
    await m.run(['run', 'push', '--auto']); // pulls first
    assert.ok(existsSync(path.join(m.state, 'staging', 'billing', billRev, 'billing.md')), `${m.name} has the gated rev`);
  }
  // The ingest-triggered ticks have tallied every tenant's runs: the quorum is met, yet gated.
  const gated = await until('the billing rev tallied with three endorsing tenants', async () => {
    const s = JSON.parse((await workerGet('/v1/status', OPS_TOKEN)).body);
    const r = s.staged.find((x: { rev: string }) => x.rev === billRev);
    return r && r.endorsing >= 3 ? r : null;
  }, 60_000, 100);
  assert.is(gated.state, 'gated');
  assert.is(gated.manualReview, 'robert');
  assert.ok(gated.endorsingRuns >= 5);
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  assert.is(await bucketText('snappy-os/skills/billing/billing.md'), null, 'gated: not promoted by quorum, not even by the cron');
  assert.is((await kvPromotion())!.rev_id, rev, 'last_quorum_promotion still names the triage rev');
  const listed = JSON.parse((await workerGet('/snappy-ops/api/revs', OPS_TOKEN)).body);
  assert.is(listed.revs.find((r: { rev: string }) => r.rev === billRev).state, 'gated', 'the ops API lists it as gated');

  const approved = await ops(['approve', 'billing', billRev]);
  assert.is(approved.where, workerUrl);
  assert.ok(approved.promoted);
  assert.is(approved.row.by, 'manual:robert');
  assert.is(await bucketText('snappy-os/skills/billing/billing.md'), await bucketText(`snappy-os-staging/billing/${billRev}/billing.md`), 'promoted once approved');
  const rowsFor = await changelogRows('billing', billRev);
  assert.is(rowsFor.length, 1);
  assert.is((await kvPromotion())!.rev_id, billRev, 'last_quorum_promotion follows the approval');
  await b.run(['run', 'pull']);
  assert.ok(existsSync(path.join(b.state, 'canonical', 'billing', 'billing.md')), 'the approved page reaches the tenants');
});

test('5. nothing that left a machine can be joined back to it: no private field, raw run id, host name, key or run time in the bucket, the KV or any Worker response', async () => {
  const times = runTimes([a1, a2, b, c]);
  const leaks = (what: string, text: string, aggregate = false) => assertNothingLeaks(what, text, { times, keys: MASTER_KEYS, aggregate });
  // The tenants' raw logs really hold what we look for, so a miss is meaningful.
  const raw = readFileSync(path.join(b.state, 'log', 'evals.ndjson'), 'utf8');
  assert.ok(raw.includes(CANARY) && RAW_RUN_ID.test(raw) && times.some((t) => raw.includes(t)));

  // The Worker's responses: the read routes and the ops API.
  let after = '';
  let pulled = '';
  for (let i = 0; i < 50; i++) {
    const r = await workerGet(`/v1/aggregate${after ? `?after=${encodeURIComponent(after)}` : ''}`, OPS_TOKEN);
    assert.is(r.status, 200);
    pulled += r.body;
    const next = r.headers.get('x-snappy-cursor') ?? '';
    if (r.headers.get('x-snappy-more') !== '1' || next === after) break;
    after = next;
  }
  assert.ok(pulled.includes(`triage:${rev}`) && pulled.includes(`billing:${billRev}`), '/v1/aggregate serves the fleet\'s rows');
  await workerGet('/v1/status');
  await workerGet('/v1/canonical');
  await workerGet('/v1/canonical/triage');
  await workerGet('/v1/canonical/billing');
  await workerGet('/snappy-ops/api/revs', OPS_TOKEN);
  await workerGet('/snappy-ops/api/tenants', OPS_TOKEN);
  await workerGet('/snappy-ops', OPS_TOKEN);
  for (const r of responses) leaks(r.what, r.body, r.what.startsWith('GET /v1/aggregate'));

  // The bucket, object by object through the R2 binding.
  let objects = 0;
  for await (const o of blobs.list('')) {
    objects++;
    leaks(`bucket key ${o.key}`, o.key);
    leaks(`bucket object ${o.key}`, new TextDecoder('latin1').decode((await blobs.get(o.key))!), o.key.startsWith(Remote.aggregatePrefix));
  }
  assert.ok(objects > 10, `the bucket holds the fleet's files (${objects})`);

  // The Worker's KV.
  const kv = await mf.getKVNamespace('SNAPPY_KV');
  const keys = (await kv.list()).keys.map((k) => k.name);
  assert.ok(keys.includes('last_quorum_promotion'));
  for (const k of keys) leaks(`KV ${k}`, `${k}\n${(await kv.get(k)) ?? ''}`);
});

test.run();
