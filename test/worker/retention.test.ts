// Retention in real workerd with real CLI machines: hours older than the window leave the pull
// set, and a machine's local union drops rows older than it, except its own rows not shipped
// yet, also when the pull is kill -9'd at every step of the prune.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { formatAggRow } from '../../domain/agg-row.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { CheckpointLog, killAt } from '../helpers/checkpoints.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { listKeys, row, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { BASE, OPS_TOKEN } from './client.ts';
import { buildTestWorker, portOf, r2Of, startWorker } from './helpers.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
let mf: Miniflare | undefined;
let url = '';
test.after(async () => {
  await mf?.dispose();
});

const iso = (ms: number) => new Date(ms).toISOString();

/** A foreign tenant's batch with rows of the given times, indexed `indexedAgo` ms ago. */
async function foreign(blobs: R2BlobStore, t: Tenant, label: string, rowTimes: number[], indexedAgo: number): Promise<string[]> {
  const lines = rowTimes.map((ts, i) => formatAggRow({ ...row(t, 'triage', 0.8, `${label}-${i}`), ts: iso(ts) }));
  const body = lines.map((l) => `${l}\n`).join('');
  const id = await batchIdOf(body);
  await blobs.put(Remote.aggregateBatch(t.id, id), body, { ifAbsent: true });
  await blobs.put(Remote.aggregateIndex(Date.now() - indexedAgo, t.id, id), Remote.aggregateBatch(t.id, id), { ifAbsent: true });
  return lines;
}

/**
 * A machine of its own admitted tenant that pulled once (the union as it was), then aggregated
 * two old and two recent rows of its own, not shipped: they sit after the pulled rows, and the
 * next pull's rows come after them.
 */
async function machine(name: string) {
  const root = tmpDir(`snappy-retention-${name}-`);
  const state = path.join(root, 'state');
  mkdirSync(path.join(state, 'log'), { recursive: true });
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  const config = path.join(root, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate'], worker: { url } }));
  const env = { SNAPPY_MASTER_KEY: `retention-${name}-0123456789abcdef0123456789abcdef`, SNAPPY_MACHINE_ID: `m-${name}`, SNAPPY_STATE: state, SNAPPY_CONFIG: config };
  const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: root, env })).stdout);
  const a = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'test'], { cwd: root, env: { ...env, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(a.code, 0, a.stderr);
  const first = await runCli(['run', 'pull'], { cwd: root, env });
  assert.is(first.code, 0, first.stderr);
  const file = path.join(state, 'log', 'evals.aggregate.ndjson');
  const lines = () => (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').filter((l) => l.trim());
  const pulled = new Set(lines());
  const now = Date.now();
  const evals = [90 * DAY, 80 * DAY, DAY, HOUR].map((ago, i) => JSON.stringify({ ts: iso(now - ago), skill: 'triage', score: 0.7, run_id: `own-${i}`, ok: true }));
  writeFileSync(path.join(state, 'log', 'evals.ndjson'), evals.map((l) => `${l}\n`).join(''));
  const agg = await runCli(['run', 'aggregate'], { cwd: root, env });
  assert.is(agg.code, 0, agg.stderr);
  // The next pulls run two days on (the run's clock only: requests are signed with the real one),
  // so the once-a-day prune is due again.
  const later = { ...env, SNAPPY_NOW: iso(now + 2 * DAY) };
  return { root, state, env, later, tenant: k.tenant as string, file, lines, ownBefore: lines().filter((l) => !pulled.has(l)), cutoff: iso(now + 2 * DAY - 30 * DAY) };
}

/** Every row the Worker serves to a fresh pull. */
async function served(): Promise<string[]> {
  const out: string[] = [];
  let after = '';
  for (;;) {
    const res = await mf!.dispatchFetch(`${BASE}/v1/aggregate${after ? `?after=${encodeURIComponent(after)}` : ''}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
    out.push(...(await res.text()).split('\n').filter((l) => l.trim()));
    after = res.headers.get('x-snappy-cursor')!;
    if (res.headers.get('x-snappy-more') !== '1') return out;
  }
}

async function checkUnion(m: Awaited<ReturnType<typeof machine>>, old: string[], recent: string[], out: string[]) {
  const lines = m.lines();
  assert.is(new Set(lines).size, lines.length, 'no row twice in the local union');
  for (const l of m.ownBefore) assert.ok(lines.includes(l), `this machine's unshipped row stays, old or not: ${l}`);
  for (const l of recent) assert.ok(lines.includes(l), `a recent row of another tenant is kept: ${l}`);
  for (const l of old) assert.not.ok(lines.includes(l), `a row older than the window is dropped: ${l}`);
  for (const l of out) assert.not.ok(lines.includes(l), `a batch of an hour past the window never arrives: ${l}`);
  const expected = new Set([...(await served()).filter((l) => JSON.parse(l).ts >= m.cutoff), ...m.ownBefore]);
  assert.equal(new Set(lines), expected, 'the union is exactly the served rows inside the window and this machine\'s unshipped rows');
}

test('hours past the window leave the pull set; a pull prunes the local union to the window but keeps this machine\'s unshipped rows, and a push then ships exactly them', async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_AGG_RETENTION_DAYS: '30' });
  url = `http://127.0.0.1:${await portOf(mf)}`;
  const blobs = new R2BlobStore(await r2Of(mf));
  const m = await machine('a');
  assert.is(m.ownBefore.length, 4);
  const x = await tenant('retention-x');
  const now = Date.now();
  // Arrived 40 days ago: out of the pull set. Arrived hours ago with rows 60 days old and 1 day old.
  const out = await foreign(blobs, x, 'gone', [now - 41 * DAY, now - 40 * DAY], 40 * DAY);
  const old = await foreign(blobs, x, 'old', [now - 60 * DAY, now - 45 * DAY], 3 * HOUR);
  const recent = await foreign(blobs, x, 'recent', [now - DAY, now - 2 * HOUR], 3 * HOUR);

  const res = await mf.dispatchFetch(`${BASE}/v1/aggregate`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  const served = await res.text();
  assert.is(res.headers.get('x-snappy-retention-days'), '30');
  for (const l of out) assert.not.ok(served.includes(l), 'an hour past the window is not served');
  for (const l of [...old, ...recent]) assert.ok(served.includes(l), 'an hour inside it is');
  const oldCursor = `${Remote.aggregateIndexPrefix}${new Date(now - 50 * DAY).toISOString().slice(0, 13).replace(/[-T]/g, '')}/${String(now - 50 * DAY).padStart(13, '0')}`;
  const fromOld = await (await mf.dispatchFetch(`${BASE}/v1/aggregate?after=${oldCursor}`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })).text();
  for (const l of out) assert.not.ok(fromOld.includes(l), 'nor to a cursor from before the window');
  // The cron compacts the hour inside the window, not the one past it.
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const hourOf = (ago: number) => new Date(now - ago).toISOString().slice(0, 13).replace(/[-T]/g, '');
  assert.ok(await blobs.head(Remote.aggregateSegmentDone(hourOf(3 * HOUR))), 'the hour of 3 hours ago is compacted');
  assert.is((await listKeys(blobs, Remote.aggregateSegmentHour(hourOf(40 * DAY)))).length, 0, 'the hour of 40 days ago is not');
  const segServed = await (await mf.dispatchFetch(`${BASE}/v1/aggregate`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } })).text();
  for (const l of [...old, ...recent]) assert.ok(segServed.includes(l), 'the compacted hour is served from its segment');
  for (const l of out) assert.not.ok(segServed.includes(l));

  // A machine whose first pull learns the window keeps what that pull brought, old rows too (a
  // day at least); its pull a day on prunes them.
  const b = await machine('b');
  for (const l of [...old, ...recent]) assert.ok(b.lines().includes(l), `the first pull pruned nothing it brought: ${l}`);
  const bLater = await runCli(['run', 'pull', '--json'], { cwd: b.root, env: b.later });
  assert.is(bLater.code, 0, bLater.stderr);
  assert.is(JSON.parse(bLater.stdout).reports.pull.aggregate.pruned, old.length, 'a day on, the old rows go');
  for (const l of old) assert.not.ok(b.lines().includes(l));

  const pull = await runCli(['run', 'pull', '--json'], { cwd: m.root, env: m.later });
  assert.is(pull.code, 0, pull.stderr);
  const rep = JSON.parse(pull.stdout).reports.pull.aggregate;
  assert.is(rep.retentionDays, 30);
  assert.is(rep.pruned, old.length, 'the pull pruned the old rows of the other tenant');
  await checkUnion(m, old, recent, out);
  const lint = await runCli(['lint', 'aggregate', m.file], { cwd: m.root, env: m.env });
  assert.is(lint.code, 0, `every line of the pruned union passes the schema: ${lint.stdout}${lint.stderr}`);

  // The byte ranges of the unshipped rows moved with them: a push ships exactly the four.
  const before = new Set(await listKeys(blobs, Remote.aggregatePrefix));
  const push = await runCli(['run', 'push', '--json'], { cwd: m.root, env: m.env });
  assert.is(push.code, 0, push.stderr);
  const shipped = (await listKeys(blobs, Remote.aggregatePrefix)).filter((k) => !before.has(k));
  const rows = (await Promise.all(shipped.map((k) => text(blobs, k)))).join('').split('\n').filter((l) => l.trim());
  assert.equal(rows.sort(), [...m.ownBefore].sort(), 'the push shipped this machine\'s four rows, no other');
});

for (const point of ['aggregate:prune-written', 'aggregate:prune-recorded', 'aggregate:prune-renamed']) {
  test(`a pull kill -9'd at ${point}, then run again: the union is pruned once, nothing it should keep is lost or doubled`, async () => {
    const blobs = new R2BlobStore(await r2Of(mf!));
    const m = await machine(point.split('-')[1]!);
    const x = await tenant(`retention-${point}`);
    const now = Date.now();
    const old = await foreign(blobs, x, 'old', [now - 70 * DAY], 1_000);
    // Indexed after the old one: its rows follow the old rows in the union, so a prune that
    // kept the old file cut to the new size would hold the old row and lose the recent one.
    const recent = await foreign(blobs, x, 'recent', [now - 3 * DAY], 0);
    const o = await killAt(new CheckpointLog(), (env) => spawnCli(['run', 'pull', '--json'], { cwd: m.root, env: { ...m.later, ...env } }), { point, n: 1, hold: true });
    assert.ok(o.killed, `the pull was killed at ${point}: ${o.result.stderr}`);
    // Open the union without pulling (a pull would bring the last 30 s of batches again and
    // hide a row the recovery lost): the old file whole or the pruned one whole, nothing between.
    const open = await runCli(['run', 'aggregate'], { cwd: m.root, env: m.later });
    assert.is(open.code, 0, open.stderr);
    const recovered = m.lines();
    assert.is(new Set(recovered).size, recovered.length, 'no row twice after the recovery');
    for (const l of [...m.ownBefore, ...recent]) assert.ok(recovered.includes(l), `the recovery kept ${l}`);
    assert.is(recovered.includes(old[0]!), point === 'aggregate:prune-written', point === 'aggregate:prune-written' ? 'killed before the prune was recorded: the old file stands' : 'killed after it was recorded: the recovery finished it');
    const again = await runCli(['run', 'pull', '--json'], { cwd: m.root, env: m.later });
    assert.is(again.code, 0, again.stderr);
    await checkUnion(m, old, recent, []);
    const lint = await runCli(['lint', 'aggregate', m.file], { cwd: m.root, env: m.env });
    assert.is(lint.code, 0, lint.stdout + lint.stderr);
    const before = new Set(await listKeys(blobs, Remote.aggregatePrefix));
    assert.is((await runCli(['run', 'push'], { cwd: m.root, env: m.env })).code, 0);
    const shipped = (await listKeys(blobs, Remote.aggregatePrefix)).filter((k) => !before.has(k));
    const rows = (await Promise.all(shipped.map((k) => text(blobs, k)))).join('').split('\n').filter((l) => l.trim());
    assert.equal(rows.sort(), [...m.ownBefore].sort(), 'a push ships exactly this machine\'s four rows');
  });
}

test.run();
