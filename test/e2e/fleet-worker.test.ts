// The whole loop in Worker mode, the deployed shape: a Worker in real workerd (miniflare) with
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
import { parsePage } from '../../domain/frontmatter.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { admit, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, r2Of, startWorker } from '../worker/helpers.ts';
import { CANARY, RAW_RUN_ID, aggregateLines, assertNothingLeaks, makeMachine, rows, runTimes, until, writeFleetConfig, type Machine } from './fleet.ts';

// Strong keys (256 bits of base64url), as `ops key` demands: fixed, so runs are comparable.
const MASTER_KEYS = ['tenant-A-5Qm0c8ZrT2vX9kLp4HwB7nJd1sGy6fEa3UuRiOoP', 'tenant-B-Vb2N8xK4qW7eR1tY5uI9oP3aS6dF0gHjLzXcMnQw', 'tenant-C-Hs6Gd3Fa9Jk2Lq5Wz8Xc1Vb4Nm7Qe0RtYuIoPaSd'];

// Every test gets a fleet of its own: a fresh Worker in workerd with its own bucket and KV, fresh
// machines; a test that needs the loop's earlier steps runs them itself.
let script = '';
let fleets = 0;
// Each fleet's Worker pipes its console to stderr.
process.stderr.setMaxListeners(50);

test.before(async () => {
  script = await buildTestWorker();
});

async function fleet() {
  const root = tmpDir('snappy-fleet-worker-');
  fleets++;
  const port = await freePort();
  // A named token: the Worker knows the operator, and an approval records robert without --by.
  const mf: Miniflare = await startWorker(script, { OPS_TOKENS: `robert:${OPS_TOKEN}` }, { port });
  const blobs = new R2BlobStore(await r2Of(mf));
  const workerUrl = `http://127.0.0.1:${port}`;
  const config = writeFleetConfig(root, { worker: { url: workerUrl } });
  // No remote, no bucket credentials: only the Worker's URL (config) and the master key (env).
  const env = { FLEET_AGENT_MANUAL: 'billing', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined } as unknown as Record<string, string>;
  // a1 sets no machine id: it makes up its own pseudonym, which is what its briefs carry.
  const a1 = makeMachine({ root, name: 'a1', key: MASTER_KEYS[0]!, config, env, skills: ['summarize', 'triage', 'billing'] });
  const a2 = makeMachine({ root, name: 'a2', key: MASTER_KEYS[0]!, machine: 'a-ci', config, env });
  const b = makeMachine({ root, name: 'b', key: MASTER_KEYS[1]!, machine: 'b-box', config, env });
  const c = makeMachine({ root, name: 'c', key: MASTER_KEYS[2]!, machine: 'c-box', config, env });
  /** Every body the Worker answered with, checked for leaks by the leak test. */
  const responses: { what: string; body: string }[] = [];
  const f = {
    root, blobs, mf, workerUrl, config, a1, a2, b, c, tenants: [a1, b, c], responses,
    async workerGet(route: string, token?: string): Promise<{ status: number; body: string; headers: Headers }> {
      const res = await fetch(`${workerUrl}${route}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      const body = await res.text();
      responses.push({ what: `GET ${route}`, body });
      return { status: res.status, body, headers: res.headers };
    },
    async kvPromotion(): Promise<{ ts: string; skill: string; rev_id: string; tenants: number; runs: number } | null> {
      const v = await (await mf.getKVNamespace('SNAPPY_KV')).get('last_quorum_promotion');
      return v ? JSON.parse(v) : null;
    },
    async stagedRevs(skill: string): Promise<string[]> {
      const out = new Set<string>();
      for await (const o of blobs.list(`snappy-os-staging/${skill}/`)) out.add(o.key.split('/')[2]!);
      return [...out];
    },
    async bucketText(key: string): Promise<string | null> {
      const got = await blobs.get(key);
      return got ? new TextDecoder().decode(got) : null;
    },
    async changelogRows(skill: string, id: string): Promise<string[]> {
      const out: string[] = [];
      for await (const o of blobs.list(`${Remote.changelogPrefix}${skill}/`)) {
        const body = (await f.bucketText(o.key))!;
        if (body.includes(id)) out.push(body);
      }
      return out;
    },
    /** Operator commands: `snappy ops ...` through the Worker (config worker.url + SNAPPY_OPS_TOKEN, no remote). */
    async ops(args: string[]): Promise<any> {
      const r = await runCli(['ops', ...args, '--json'], { cwd: root, env: { SNAPPY_CONFIG: config, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
      if (r.code !== 0) throw new Error(`snappy ops ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      responses.push({ what: `snappy ops ${args.join(' ')}`, body: r.stdout });
      return JSON.parse(r.stdout);
    },
  };
  return f;
}
type Fleet = Awaited<ReturnType<typeof fleet>>;

/** Runs `fn` on a fresh fleet and stops its Worker whatever happens. */
async function withFleet(fn: (f: Fleet) => Promise<void>): Promise<void> {
  const f = await fleet();
  try {
    await fn(f);
  } finally {
    await f.mf.dispose();
  }
}

// The steps of the loop, for the tests that build on them. Machine.run throws, naming the
// command, when a step's command fails.
async function admitAll(f: Fleet): Promise<void> {
  for (const key of MASTER_KEYS) await admit(f.mf, { masterKey: key, id: await tenantIdOf(key) }, 'robert');
}

async function stageTriage(f: Fleet): Promise<string> {
  f.a1.log(rows('summarize', Array(12).fill(0.95), 'A-sum'));
  f.a1.log(rows('triage', [0.92, 0.9, 0.91, 0.5, 0.48, 0.5, 0.52, 0.49, 0.5, 0.47, 0.5, 0.5], 'A-tri'));
  await f.a1.run(['run', 'push', '--auto']);
  const revs = await f.stagedRevs('triage');
  if (revs.length !== 1) throw new Error(`setup: expected one staged rev of triage, got ${revs}`);
  return revs[0]!;
}

async function evaluate(f: Fleet, rev: string, by: Machine[]): Promise<void> {
  await Promise.all([f.b, f.c, f.a2].map((m) => m.run(['run', 'pull'])));
  for (const m of by) {
    m.log(rows(`triage:${rev}`, [0.9, 0.93], `${m.name}-rev`));
    await m.run(['run', 'push', '--auto']);
  }
}

/**
 * Waits for the Worker's background work after a response (it has no completion signal to
 * wait on). The limit only keeps a broken run from hanging: how fast promotion lands is
 * `npm run bench`'s business, not a test's.
 */
const settled = <T>(what: string, fn: () => Promise<T | null | undefined | false>) => until(what, fn, 300_000, 50);

async function gatedBilling(f: Fleet): Promise<string> {
  f.a1.log(rows('billing', Array(12).fill(0.3), 'A-bill'));
  await f.a1.run(['run', 'push', '--auto']);
  const revs = await f.stagedRevs('billing');
  if (revs.length !== 1) throw new Error(`setup: expected one staged rev of billing, got ${revs}`);
  for (const m of f.tenants) {
    m.log(rows(`billing:${revs[0]}`, [0.97, 0.96], `${m.name}-bill`));
    await m.run(['run', 'push', '--auto']); // pulls first
  }
  return revs[0]!;
}

test('each tenant hands its public key to the operator, who admits it through the Worker; the tenants hold no bucket credentials', () =>
  withFleet(async (f) => {
    assert.equal(Object.keys(JSON.parse(readFileSync(f.config, 'utf8'))).sort(), ['regen', 'worker'], "a tenant's config: the Worker and the regen agent, nothing else");
    for (const m of [...f.tenants, f.a2]) assert.equal(Object.keys(m.env).filter((k) => /^AWS_|^SNAPPY_REMOTE$/.test(k) && m.env[k] !== undefined), []);
    const keys = await Promise.all(
      f.tenants.map(async (m) => {
        const k = await m.json(['ops', 'key']);
        assert.match(k.tenant, /^[0-9a-f]{12}$/);
        const admitted = await f.ops(['tenants', 'admit', k.tenant, k.publicKey]);
        assert.is(admitted.where, f.workerUrl, 'ops acts through the Worker');
        assert.is(admitted.tenant.tenant, k.tenant);
        assert.is(admitted.tenant.admittedBy, 'robert', 'the named token is the operator');
        return k;
      }),
    );
    const ids = keys.map((k) => k.tenant as string);
    assert.is(new Set(ids).size, 3, 'three distinct tenants');
    const list = await f.ops(['tenants', 'list']);
    assert.equal(list.tenants.map((t: { tenant: string }) => t.tenant).sort(), [...ids].sort());
  }));

test('1. a degrading skill on tenant A drops a marker, the regen agent writes a revision, and the push stages it in the bucket', () =>
  withFleet(async (f) => {
    const { a1, blobs } = f;
    await admitAll(f);
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
    const revs = await f.stagedRevs('triage');
    assert.is(revs.length, 1, `one staged rev of triage in the bucket, got ${revs}`);
    const rev = revs[0]!;
    assert.match(rev, /^[0-9a-f]{12}$/);
    const page = await f.bucketText(`snappy-os-staging/triage/${rev}/triage.md`);
    assert.ok(page, `snappy-os-staging/triage/${rev}/triage.md is in the bucket`);
    assert.is(page, readFileSync(path.join(a1.state, 'staging', 'triage', rev, 'triage.md'), 'utf8'));
    assert.match(page!, 'base_rev:');
    assert.not.ok(existsSync(marker), 'the marker is removed once the rev is staged');
    assert.match(a1.id(), /^m-[a-z2-7]{10}$/);
    const brief = readFileSync(path.join(a1.state, 'log', 'regen-queue', `triage.${a1.id()}.md`), 'utf8');
    assert.is(parsePage(brief).data.rev_id, rev);
    assert.is(await f.bucketText(Remote.brief(await tenantIdOf(MASTER_KEYS[0]!), 'triage', a1.id())), brief, 'the shared brief is in the bucket, under its tenant');
    assert.ok(await blobs.head(Remote.manifest('triage', rev)), "the Worker froze the rev's file manifest");
    const batches: string[] = [];
    for await (const o of blobs.list(Remote.aggregatePrefix)) batches.push(o.key);
    assert.is(batches.length, 1, `the Worker stored A's batch in the bucket: ${batches}`);
  }));

test('2. the other tenants pull the staged revision, evaluate it, and each push grows the aggregate with the new runs; two tenants are not a quorum', () =>
  withFleet(async (f) => {
    const { a1, a2, b, c } = f;
    await admitAll(f);
    const rev = await stageTriage(f);
    await Promise.all([b, c, a2].map((m) => m.run(['run', 'pull'])));
    for (const m of [b, c, a2]) {
      assert.ok(existsSync(path.join(m.state, 'staging', 'triage', rev, 'triage.md')), `${m.name} pulled the staged rev`);
    }
    const status = await b.json(['status']);
    assert.match(JSON.stringify(status), rev, "b's status lists the rev waiting for evaluation");
    for (const m of [a1, b]) {
      const id = await tenantIdOf(m.env.SNAPPY_MASTER_KEY!);
      const own = () => aggregateLines(m).filter((l) => l.includes(`"triage:${rev}"`) && l.includes(`"tenant":"${id}"`)).length;
      const before = own();
      m.log(rows(`triage:${rev}`, [0.9, 0.93], `${m.name}-rev`));
      const out = await m.json(['run', 'push', '--auto']);
      assert.is(out.reports.push.aggregate.via, 'worker');
      assert.is(own(), before + 2, `${m.name}: evals.aggregate.ndjson gained exactly its two new runs`);
    }
    // Both batches are in; the Worker has tallied what it was sent.
    await settled('the rev tallied with two endorsing tenants', async () => {
      const s = JSON.parse((await f.workerGet('/v1/status', OPS_TOKEN)).body);
      return s.staged.find((x: { rev: string }) => x.rev === rev)?.endorsing === 2;
    });
    assert.is(await f.kvPromotion(), null, 'two tenants are not a quorum');

    // The operator rejects it: c, which holds the rev, learns so at its next pull (from the
    // Worker's /v1/status), and its status stops listing the rev as waiting for evaluation.
    await f.ops(['reject', 'triage', rev, '--reason', 'not this one']);
    const pulled = await c.json(['run', 'pull']);
    assert.equal(pulled.reports.pull.decided.map((d: { rev: string; state: string; source: string }) => [d.rev, d.state, d.source]), [[`triage:${rev}`, 'rejected', 'worker']]);
    const st = await c.json(['status']);
    assert.equal(st.staged, [], 'nothing waits for evaluation on c');
    assert.equal(st.decided.map((d: { ref: string; state: string }) => [d.ref, d.state]), [[`triage:${rev}`, 'rejected']]);
  }));

test('3. after the third tenant\'s push the revision becomes canonical without a tick (ingest evaluates the quorum), last_quorum_promotion says so, and every pull brings the page', () =>
  withFleet(async (f) => {
    const { a1, a2, b, c, mf } = f;
    await admitAll(f);
    const rev = await stageTriage(f);
    await evaluate(f, rev, [a1, b]);
    c.log(rows(`triage:${rev}`, [0.9, 0.93], 'c-rev'));
    const t0 = Date.now();
    const out = await c.json(['run', 'push', '--auto']);
    const pushed = Date.now();
    assert.is(out.reports.push.aggregate.via, 'worker');
    // The Worker evaluates the quorum at ingest (in the background); the cron is the backstop
    // and has not fired yet.
    const promo = await settled('last_quorum_promotion in the Worker KV', async () => {
      const p = await f.kvPromotion();
      return p?.rev_id === rev ? p : null;
    });
    console.log(`    promotion landed ${Date.now() - pushed} ms after the third push returned (the push took ${pushed - t0} ms)`);
    assert.is(promo.skill, 'triage');
    assert.is(promo.tenants, 3);
    assert.is(promo.runs, 6);
    assert.is(await f.bucketText(`snappy-os/skills/triage/triage.md`), await f.bucketText(`snappy-os-staging/triage/${rev}/triage.md`), 'the canonical page is the rev');

    // The minute cron fires too: it finds nothing more to do.
    assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
    const rowsFor = await f.changelogRows('triage', rev);
    assert.is(rowsFor.length, 1, 'one changelog row for the promotion');
    assert.is(JSON.parse(rowsFor[0]!).by, 'quorum');

    const status = JSON.parse((await f.workerGet('/v1/status', OPS_TOKEN)).body);
    assert.is(status.last_quorum_promotion.rev_id, rev, '/v1/status reports the promotion');
    assert.not.ok(status.staged.some((s: { rev: string }) => s.rev === rev), 'a promoted rev is no longer listed as staged');
    const canon = JSON.parse((await f.workerGet('/v1/canonical/triage')).body);
    assert.is(canon.rev_id, rev);
    assert.is(canon.files['triage.md'], await f.bucketText(`snappy-os-staging/triage/${rev}/triage.md`));

    await Promise.all([...f.tenants, a2].map((m) => m.run(['run', 'pull'])));
    for (const m of [...f.tenants, a2]) {
      const file = path.join(m.state, 'canonical', 'triage', 'triage.md');
      assert.ok(existsSync(file), `${m.name} has the canonical page`);
      assert.is(readFileSync(file, 'utf8'), canon.files['triage.md']);
    }
    const st = await b.json(['status']);
    assert.not.ok(st.staged.some((x: { rev: string }) => x.rev === rev), 'b no longer lists the promoted rev as waiting');
    assert.is(st.decided.find((d: { rev: string }) => d.rev === rev)?.state, 'promoted');
    // Pulls follow the Worker's change feed: with nothing new, a pull asks twice (the feed and
    // the aggregate) whatever the history; a push with nothing new asks nothing at all.
    const quietPull = await b.json(['run', 'pull']);
    assert.is(quietPull.reports.pull.files, 0);
    assert.is(quietPull.reports.pull.requests, 2, JSON.stringify(quietPull.reports.pull));
    await b.run(['run', 'push']); // sends the adopted canonical page to the tenant's own copy
    const quietPush = await b.json(['run', 'push']);
    assert.is(quietPush.reports.push.files, 0);
    assert.is(quietPush.reports.push.requests, 0, JSON.stringify(quietPush.reports.push));
  }));

test('4. a revision asking for manual review stays gated whatever the quorum, until approved through the ops API', () =>
  withFleet(async (f) => {
    const { b, mf } = f;
    await admitAll(f);
    const billRev = await gatedBilling(f);
    assert.match((await f.bucketText(`snappy-os-staging/billing/${billRev}/billing.md`))!, 'manual_review: robert');
    for (const m of f.tenants) assert.ok(existsSync(path.join(m.state, 'staging', 'billing', billRev, 'billing.md')), `${m.name} has the gated rev`);
    // The ingest-triggered evaluations have tallied every tenant's runs: the quorum is met, yet gated.
    const gated = await settled('the billing rev tallied with three endorsing tenants', async () => {
      const st = JSON.parse((await f.workerGet('/v1/status', OPS_TOKEN)).body);
      const r = st.staged.find((x: { rev: string }) => x.rev === billRev);
      return r && r.endorsing >= 3 ? r : null;
    });
    assert.is(gated.state, 'gated');
    assert.is(gated.manualReview, 'robert');
    assert.is(gated.endorsingRuns, 6);
    assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
    assert.is(await f.bucketText('snappy-os/skills/billing/billing.md'), null, 'gated: not promoted by quorum, not even by the cron');
    assert.is(await f.kvPromotion(), null, 'nothing promoted yet');
    const listed = JSON.parse((await f.workerGet('/snappy-ops/api/revs', OPS_TOKEN)).body);
    assert.is(listed.revs.find((r: { rev: string }) => r.rev === billRev).state, 'gated', 'the ops API lists it as gated');

    const approved = await f.ops(['approve', 'billing', billRev]);
    assert.is(approved.where, f.workerUrl);
    assert.ok(approved.promoted);
    assert.is(approved.row.by, 'manual:robert');
    assert.is(await f.bucketText('snappy-os/skills/billing/billing.md'), await f.bucketText(`snappy-os-staging/billing/${billRev}/billing.md`), 'promoted once approved');
    assert.is((await f.changelogRows('billing', billRev)).length, 1);
    assert.is((await f.kvPromotion())!.rev_id, billRev, 'last_quorum_promotion follows the approval');
    await b.run(['run', 'pull']);
    assert.ok(existsSync(path.join(b.state, 'canonical', 'billing', 'billing.md')), 'the approved page reaches the tenants');
  }));

test('5. after the whole loop, nothing that left a machine can be joined back to it: no private field, raw run id, host name, key or run time in the bucket, the KV or any Worker response', () =>
  withFleet(async (f) => {
    const { a1, b, c, mf, blobs } = f;
    await admitAll(f);
    const rev = await stageTriage(f);
    await evaluate(f, rev, [a1, b, c]);
    await settled('the triage promotion', async () => (await f.kvPromotion())?.rev_id === rev);
    await Promise.all([...f.tenants, f.a2].map((m) => m.run(['run', 'pull'])));
    const billRev = await gatedBilling(f);
    await settled('the billing rev tallied', async () => JSON.parse((await f.workerGet('/v1/status', OPS_TOKEN)).body).staged.find((x: { rev: string }) => x.rev === billRev)?.endorsing >= 3);
    await f.ops(['approve', 'billing', billRev]);

    const times = runTimes([f.a1, f.a2, b, c]);
    const leaks = (what: string, text: string, aggregate = false) => assertNothingLeaks(what, text, { times, keys: MASTER_KEYS, aggregate });
    // The tenants' raw logs really hold what we look for, so a miss is meaningful.
    const raw = readFileSync(path.join(b.state, 'log', 'evals.ndjson'), 'utf8');
    assert.ok(raw.includes(CANARY) && RAW_RUN_ID.test(raw) && times.some((t) => raw.includes(t)));

    // The Worker's responses: the read routes and the ops API.
    let after = '';
    let pulled = '';
    for (let i = 0; i < 50; i++) {
      const r = await f.workerGet(`/v1/aggregate${after ? `?after=${encodeURIComponent(after)}` : ''}`, OPS_TOKEN);
      assert.is(r.status, 200);
      pulled += r.body;
      const next = r.headers.get('x-snappy-cursor') ?? '';
      if (r.headers.get('x-snappy-more') !== '1' || next === after) break;
      after = next;
    }
    assert.ok(pulled.includes(`triage:${rev}`) && pulled.includes(`billing:${billRev}`), '/v1/aggregate serves the fleet\'s rows');
    await f.workerGet('/v1/status');
    await f.workerGet('/v1/canonical');
    await f.workerGet('/v1/canonical/triage');
    await f.workerGet('/v1/canonical/billing');
    await f.workerGet('/snappy-ops/api/revs', OPS_TOKEN);
    await f.workerGet('/snappy-ops/api/tenants', OPS_TOKEN);
    await f.workerGet('/snappy-ops', OPS_TOKEN);
    for (const r of f.responses) leaks(r.what, r.body, r.what.startsWith('GET /v1/aggregate'));

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
  }));

test.run();
