// The whole loop on the embedded default (a file remote, `snappy run tick` in Node): three
// tenants, one of them with two machines, driven through the real CLI as processes. It checks
// each item of the design note's "How to verify it's working".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tenantIdOf } from '../../domain/hash.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { CANARY, aggregateLines, assertNothingLeaks, makeMachine, readTree, rows, runTimes, writeFleetConfig } from './fleet.ts';

const KEYS = ['tenant-A-secret', 'tenant-B-secret', 'tenant-C-secret'];

/** A fresh fleet: its own remote folder, config and four machines. Every test makes its own. */
function fleet() {
  const root = tmpDir('snappy-fleet-');
  const remoteDir = path.join(root, 'remote');
  const remote = `file://${remoteDir}`;
  const config = writeFleetConfig(root);
  const agentEnv = { FLEET_AGENT_MANUAL: 'billing' };
  // a1 sets no machine id: it makes up its own pseudonym, which is what its briefs carry.
  const a1 = makeMachine({ root, name: 'a1', key: 'tenant-A-secret', config, remote, env: agentEnv, skills: ['summarize', 'triage', 'billing'] });
  const a2 = makeMachine({ root, name: 'a2', key: 'tenant-A-secret', machine: 'a-ci', config, remote, env: agentEnv });
  const b = makeMachine({ root, name: 'b', key: 'tenant-B-secret', machine: 'b-box', config, remote, env: agentEnv });
  const c = makeMachine({ root, name: 'c', key: 'tenant-C-secret', machine: 'c-box', config, remote, env: agentEnv });
  const stagedRevs = (skill: string) => {
    try {
      return readdirSync(path.join(remoteDir, 'snappy-os-staging', skill));
    } catch {
      return [];
    }
  };
  return { remoteDir, a1, a2, b, c, tenants: [a1, b, c], stagedRevs };
}
type Fleet = ReturnType<typeof fleet>;

// The steps of the loop, for the tests that build on them (each test asserts on its own step).
// Machine.run throws, naming the command, when a step's command fails.
async function stageTriage(f: Fleet): Promise<string> {
  f.a1.log(rows('summarize', Array(12).fill(0.95), 'A-sum'));
  f.a1.log(rows('triage', [0.92, 0.9, 0.91, 0.5, 0.48, 0.5, 0.52, 0.49, 0.5, 0.47, 0.5, 0.5], 'A-tri'));
  await f.a1.run(['run', 'push', '--auto']);
  const revs = f.stagedRevs('triage');
  if (revs.length !== 1) throw new Error(`setup: expected one staged rev of triage, got ${revs}`);
  return revs[0]!;
}

async function evaluate(f: Fleet, rev: string): Promise<void> {
  for (const m of [f.b, f.c, f.a2]) await m.run(['run', 'pull']);
  for (const m of f.tenants) {
    m.log(rows(`triage:${rev}`, [0.9, 0.93], `${m.name}-rev`));
    await m.run(['run', 'push', '--auto']);
  }
}

async function gatedBilling(f: Fleet): Promise<string> {
  f.a1.log(rows('billing', Array(12).fill(0.3), 'A-bill'));
  await f.a1.run(['run', 'push', '--auto']);
  const revs = f.stagedRevs('billing');
  if (revs.length !== 1) throw new Error(`setup: expected one staged rev of billing, got ${revs}`);
  for (const m of f.tenants) {
    await m.run(['run', 'pull']);
    m.log(rows(`billing:${revs[0]}`, [0.97, 0.96], `${m.name}-bill`));
    await m.run(['run', 'push', '--auto']);
  }
  return revs[0]!;
}

test('a degrading skill drops a marker, the regen agent writes a revision, and the push stages it', async () => {
  const { a1, remoteDir, stagedRevs } = fleet();
  a1.log(rows('summarize', Array(12).fill(0.95), 'A-sum'));
  a1.log(rows('triage', [0.92, 0.9, 0.91, 0.5, 0.48, 0.5, 0.52, 0.49, 0.5, 0.47, 0.5, 0.5], 'A-tri'));
  const out = await a1.json(['run', 'push', '--auto']);
  assert.ok(out.ok);
  assert.not.ok(existsSync(path.join(a1.state, 'ready', 'summarize.ready')), 'a healthy skill gets no marker');
  const revs = stagedRevs('triage');
  assert.is(revs.length, 1, `one staged rev of triage in the remote, got ${revs}`);
  const rev = revs[0]!;
  assert.match(rev, /^[0-9a-f]{12}$/);
  const page = readFileSync(path.join(remoteDir, 'snappy-os-staging', 'triage', rev, 'triage.md'), 'utf8');
  assert.match(page, `base_rev:`);
  assert.not.ok(existsSync(path.join(a1.state, 'ready', 'triage.ready')), 'the marker is removed once the rev is staged');
  assert.match(a1.id(), /^m-[a-z2-7]{10}$/);
  assert.ok(existsSync(path.join(a1.state, 'log', 'regen-queue', `triage.${a1.id()}.md`)), 'the brief is in the regen queue');
  assert.ok(existsSync(path.join(remoteDir, 'snappy-briefs', await tenantIdOf('tenant-A-secret'), `triage.${a1.id()}.md`)), 'the shared brief is in the remote, under its tenant');
  assert.ok(existsSync(path.join(a1.state, '.snappy', 'briefs', 'triage.md')), 'the local brief stays on the machine');
});

test('other tenants pull the staged revision, evaluate it, and each push grows the aggregate with their runs', async () => {
  const f = fleet();
  const rev = await stageTriage(f);
  for (const m of [f.b, f.c, f.a2]) {
    await m.run(['run', 'pull']);
    assert.ok(existsSync(path.join(m.state, 'staging', 'triage', rev, 'triage.md')), `${m.name} pulled the staged rev`);
    const status = await m.json(['status']);
    assert.match(JSON.stringify(status), rev, `${m.name}'s status lists the rev waiting for evaluation`);
  }
  for (const m of f.tenants) {
    // Its own rows of the rev: the push --auto also pulls other tenants' rows into the union.
    const own = async () => {
      const id = await tenantIdOf(m.env.SNAPPY_MASTER_KEY!);
      return aggregateLines(m).filter((l) => l.includes(`"triage:${rev}"`) && l.includes(`"tenant":"${id}"`)).length;
    };
    const before = await own();
    m.log(rows(`triage:${rev}`, [0.9, 0.93], `${m.name}-rev`));
    await m.run(['run', 'push', '--auto']);
    assert.is(await own(), before + 2, `${m.name}: evals.aggregate.ndjson gained exactly its two new runs`);
  }
});

test('the tick promotes the revision once a quorum of three tenants agrees, exactly once', async () => {
  const f = fleet();
  const rev = await stageTriage(f);
  await evaluate(f, rev);
  const { remoteDir } = f;
  const op = f.a1;
  await op.run(['run', 'tick']);
  const canonical = path.join(remoteDir, 'snappy-os', 'skills', 'triage', 'triage.md');
  assert.ok(existsSync(canonical), 'the rev is canonical');
  assert.is(readFileSync(canonical, 'utf8'), readFileSync(path.join(remoteDir, 'snappy-os-staging', 'triage', rev, 'triage.md'), 'utf8'));
  const kv = readTree(path.join(remoteDir, 'snappy-kv'));
  const last = [...kv.entries()].find(([k]) => k.includes('last_quorum_promotion'));
  assert.ok(last, 'KV last_quorum_promotion is set');
  const promo = JSON.parse(last![1].toString('utf8'));
  assert.is(promo.skill, 'triage');
  assert.is(promo.rev_id, rev);
  assert.is(promo.tenants, 3);
  assert.is(promo.runs, 6);
  await op.run(['run', 'tick']);
  const changelog = readTree(path.join(remoteDir, 'snappy-os', 'changelog'));
  const rowsFor = [...changelog.values()].map((b) => b.toString('utf8')).filter((t) => t.includes(rev));
  assert.is(rowsFor.length, 1, 'one changelog row for the promotion, after two ticks');
});

test("every tenant's next pull brings the canonical page", async () => {
  const f = fleet();
  const rev = await stageTriage(f);
  await evaluate(f, rev);
  await f.a1.run(['run', 'tick']);
  for (const m of [...f.tenants, f.a2]) {
    await m.run(['run', 'pull']);
    const file = path.join(m.state, 'canonical', 'triage', 'triage.md');
    assert.ok(existsSync(file), `${m.name} has the canonical page`);
    assert.is(readFileSync(file, 'utf8'), readFileSync(path.join(f.remoteDir, 'snappy-os-staging', 'triage', rev, 'triage.md'), 'utf8'));
  }
});

test('a revision asking for manual review stays gated whatever the quorum, until approved', async () => {
  const f = fleet();
  const { a1, remoteDir } = f;
  const billRev = await gatedBilling(f);
  assert.match(readFileSync(path.join(remoteDir, 'snappy-os-staging', 'billing', billRev, 'billing.md'), 'utf8'), 'manual_review: robert');
  await a1.run(['run', 'tick']);
  assert.not.ok(existsSync(path.join(remoteDir, 'snappy-os', 'skills', 'billing')), 'gated: not promoted by quorum');
  await a1.run(['ops', 'approve', 'billing', billRev], {});
  assert.ok(existsSync(path.join(remoteDir, 'snappy-os', 'skills', 'billing', 'billing.md')), 'promoted once approved');
  const changelog = [...readTree(path.join(remoteDir, 'snappy-os', 'changelog')).values()].map((x) => x.toString('utf8')).filter((t) => t.includes(billRev));
  assert.is(changelog.length, 1);
  assert.match(changelog[0]!, 'manual:');
});

test('nothing in the remote can be joined back to a machine after the whole loop: no private field, raw run id, host name, key or run time', async () => {
  const f = fleet();
  const rev = await stageTriage(f);
  await evaluate(f, rev);
  await f.a1.run(['run', 'tick']);
  for (const m of [...f.tenants, f.a2]) await m.run(['run', 'pull']);
  const billRev = await gatedBilling(f);
  await f.a1.run(['ops', 'approve', 'billing', billRev], {});
  // The raw logs really hold what is looked for, so a miss means something.
  const raw = readFileSync(path.join(f.b.state, 'log', 'evals.ndjson'), 'utf8');
  assert.ok(raw.includes(CANARY) && raw.includes('someone@example.com') && /\b[A-Za-z0-9]+-(tri|sum|bill|rev)-\d+\b/.test(raw));
  const times = runTimes([f.a1, f.a2, f.b, f.c]);
  assert.ok(times.some((t) => readFileSync(path.join(f.a1.state, 'log', 'evals.ndjson'), 'utf8').includes(t)));
  const tree = readTree(f.remoteDir);
  assert.ok(tree.size > 5, 'the remote holds the synced files');
  let batches = 0;
  for (const [key, bytes] of tree) {
    const aggregate = key.startsWith('snappy-agg/');
    if (aggregate) batches++;
    assertNothingLeaks(`${key} (its key)`, key, { times, keys: KEYS });
    assertNothingLeaks(key, bytes.toString('latin1'), { times, keys: KEYS, aggregate });
  }
  assert.ok(batches >= 3, `the aggregate batches were checked (${batches})`);
});

test.run();
