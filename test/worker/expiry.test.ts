import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { entries, stageRev, tenant } from '../plugins/quorum/fleet.ts';
import { OPS_TOKEN } from './client.ts';
import { buildTestWorker, portOf, startWorker, r2Of } from './helpers.ts';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

// The Worker's cron reads its own clock: a rev the quorum first saw 15 days ago stands for 15 days of waiting.
test("the Worker's cron expires a rev staged 15 days ago once, however many ticks overlap; an operator revives it through the ops API", async () => {
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const port = await portOf(mf);
  const dir = tmpDir('snappy-worker-expiry-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ worker: { url: `http://127.0.0.1:${port}` } }));
  const ops = async (args: string[]) => {
    const r = await runCli(['ops', ...args, '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const blobs = new R2BlobStore(await r2Of(mf));
  const old = await stageRev(blobs, 'triage', 'Triage, long staged.\n');
  const young = await stageRev(blobs, 'triage', 'Triage, just staged.\n');
  const seenAt = new Date(Date.now() - 15 * 86_400_000).toISOString();
  await blobs.put(Remote.since('triage', old), JSON.stringify({ ts: seenAt }));
  const worker = await mf.getWorker();
  const results = await Promise.all(Array.from({ length: 4 }, () => worker.scheduled({ cron: '* * * * *' })));
  assert.equal(results.map((r) => r.outcome), ['ok', 'ok', 'ok', 'ok']);
  assert.equal((await entries(blobs, 'triage')).map((e) => [e.seq, e.action, e.rev_id, e.by, e.reason]), [[1, 'expire', old, 'quorum', 'expired after 14 days: 0 of 3 tenants endorse; 0 runs, 5 needed']], 'one entry from four overlapping ticks');
  assert.ok(await blobs.head(Remote.since('triage', young)), 'the cron started the young rev\'s clock');

  // A tenant's status and pull, through the Worker: the countdown, the expiry as a fate.
  const t = await tenant('expiry-tenant');
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const asTenant = (args: string[]) => runCli(args, { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey, SNAPPY_STATE: state } });
  const key = JSON.parse((await runCli(['ops', 'key', '--json', '--allow-weak-key'], { cwd: dir, env: { SNAPPY_MASTER_KEY: t.masterKey } })).stdout);
  await ops(['tenants', 'admit', key.tenant, key.publicKey, '--by', 'robert']);
  const pull = await asTenant(['run', 'pull']);
  assert.is(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, `staged rev triage:${old} was expired`);
  const st = await asTenant(['status', '--json']);
  assert.is(st.code, 0, st.stderr);
  const sj = JSON.parse(st.stdout);
  assert.equal(sj.staged.map((x: { ref: string }) => x.ref), [`triage:${young}`], 'only the young rev waits for evaluation');
  assert.equal(sj.decided.map((x: { ref: string; state: string }) => [x.ref, x.state]), [[`triage:${old}`, 'expired']]);
  assert.equal(sj.quorum.revs.find((x: { rev: string }) => x.rev === young).expiry.words, 'expires in 13 days');
  const human = await asTenant(['status']);
  assert.match(human.stdout, `  triage:${young} pending: 0 of 3 tenants endorse; 0 runs, 5 needed; expires in 13 days`);
  assert.match(human.stdout, `  triage:${old} expired: 0 of 3 tenants endorse; 0 runs, 5 needed; expired `);

  let revs = (await ops(['revs'])).revs as Record<string, any>[];
  const byRev = (rev: string) => revs.find((r) => r.rev === rev)!;
  assert.equal([byRev(old).state, byRev(old).expiry.expired.reason], ['expired', 'expired after 14 days: 0 of 3 tenants endorse; 0 runs, 5 needed']);
  assert.equal([byRev(young).state, byRev(young).expiry.words], ['pending', 'expires in 13 days']);

  const rv = await ops(['revive', 'triage', old, '--by', 'alice', '--reason', 'new eval set']);
  assert.equal([rv.changed, rv.entry.action, rv.entry.by, rv.entry.reason], [true, 'revive', 'manual:alice', 'new eval set']);
  assert.is((await worker.scheduled({ cron: '* * * * *' })).outcome, 'ok');
  assert.equal((await entries(blobs, 'triage')).map((e) => e.action), ['expire', 'revive'], 'the revive restarted the clock: no second expiry');
  revs = (await ops(['revs'])).revs as Record<string, any>[];
  assert.equal([byRev(old).state, byRev(old).expiry.reopened.by], ['pending', 'manual:alice']);
  assert.match(byRev(old).expiry.words, /^expires in 13 days \(revived /);
});

test.run();
