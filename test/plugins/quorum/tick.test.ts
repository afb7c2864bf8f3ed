import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../../adapters/blob-kv.ts';
import { Remote } from '../../../domain/layout.ts';
import { runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { fileRemote, listKeys, promotionText, row, stageRev, tenant, text, writeBatch } from './fleet.ts';

async function setup(config: Record<string, unknown> = {}) {
  const dir = tmpDir('snappy-quorum-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], ...config }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const tick = async (...extra: string[]) => {
    const r = await runCli(['run', 'tick', '--remote', `file://${remote}`, '--json', ...extra], { cwd: dir });
    assert.is(r.code, 0, `tick failed: ${r.stderr}`);
    return JSON.parse(r.stdout).reports.tick.quorum as { promoted: { skill: string; rev_id: string; by: string; tenants: number; runs: number }[]; gated: string[]; scan: { batches: number; invalid: number } };
  };
  return { dir, remote, blobs, kv: new BlobKV(blobs), tick };
}

test('a rev is promoted once 3 tenants endorse with 5 runs, not before; canonical becomes exactly its folder', async () => {
  const { blobs, kv, tick } = await setup();
  const [a, b, c] = await Promise.all([tenant('a'), tenant('b'), tenant('c')]);
  await blobs.put(`${Remote.canonicalDir('summarize')}stale.md`, 'old file');
  const rev = await stageRev(blobs, 'summarize', '---\nbase_rev: none\n---\nSummarize well.\n', { 'notes.txt': 'n' });
  await writeBatch(blobs, a, [row(a, `summarize:${rev}`, 0.9, 'r1'), row(a, `summarize:${rev}`, 0.95, 'r2'), row(a, 'summarize', 0.1, 'plain')]);
  await writeBatch(blobs, b, [row(b, `summarize:${rev}`, 0.86, 'r1')]);
  let q = await tick();
  assert.is(q.promoted.length, 0, 'two tenants are not a quorum');
  await writeBatch(blobs, c, [row(c, `summarize:${rev}`, 0.9, 'r1')]);
  q = await tick();
  assert.is(q.promoted.length, 0, 'three tenants with 4 runs: not yet');
  await writeBatch(blobs, c, [row(c, `summarize:${rev}`, 0.9, 'r1'), row(c, `summarize:${rev}`, 0.88, 'r2')]);
  q = await tick();
  assert.is(q.scan.batches, 1);
  assert.is(q.promoted.length, 1, 'the 5th run completes the quorum');
  assert.equal({ ...q.promoted[0], ts: undefined, mean: undefined }, { seq: 1, ts: undefined, skill: 'summarize', rev_id: rev, action: 'promote', by: 'quorum', tenants: 3, runs: 5, mean: undefined, previous: null });
  assert.equal((await listKeys(blobs, Remote.canonicalDir('summarize'))).sort(), [`${Remote.canonicalDir('summarize')}notes.txt`, `${Remote.canonicalDir('summarize')}summarize.md`]);
  assert.is(await text(blobs, `${Remote.canonicalDir('summarize')}summarize.md`), '---\nbase_rev: none\n---\nSummarize well.\n');
  const rowText = await promotionText(blobs, 'summarize', rev);
  const clog = JSON.parse(rowText!);
  assert.equal(Object.keys(clog), ['seq', 'ts', 'skill', 'rev_id', 'action', 'by', 'tenants', 'runs', 'mean', 'previous']);
  assert.equal([clog.seq, clog.action, clog.previous], [1, 'promote', null], 'the first entry of the skill, replacing no earlier canonical');
  assert.is(clog.mean, 0.898);
  const last = JSON.parse((await kv.get('last_quorum_promotion'))!);
  assert.equal(last, { ts: clog.ts, skill: 'summarize', rev_id: rev, tenants: 3, runs: 5 });
  q = await tick();
  assert.is(q.promoted.length, 0, 'a second tick promotes nothing');
  assert.is(await promotionText(blobs, 'summarize', rev), rowText, 'the changelog row is never rewritten');
});

test('runs are deduped by (tenant, run_id); a tenant below 0.85 does not endorse; rows naming another tenant are ignored', async () => {
  const { blobs, tick } = await setup();
  const [a, b, c, d] = await Promise.all([tenant('a'), tenant('b'), tenant('c'), tenant('d')]);
  const rev = await stageRev(blobs, 'triage', 'Triage.\n');
  const ref = `triage:${rev}`;
  // a's same run shipped three times counts once.
  await writeBatch(blobs, a, [row(a, ref, 0.9, 'r1'), row(a, ref, 0.9, 'r2')]);
  await writeBatch(blobs, a, [row(a, ref, 0.9, 'r1'), row(a, ref, 0.9, 'r2'), row(a, ref, 0.9, 'r2')]);
  await writeBatch(blobs, b, [row(b, ref, 0.9, 'r1')]);
  // c scores low: present but not endorsing.
  await writeBatch(blobs, c, [row(c, ref, 0.84, 'r1'), row(c, ref, 0.8, 'r2')]);
  // d's folder holds rows claiming to be b and c: forged, never counted.
  await writeBatch(blobs, d, [row(b, ref, 1, 'x1'), row(c, ref, 1, 'x2'), row(c, ref, 1, 'x3')]);
  const q = await tick();
  assert.is(q.scan.invalid, 3, 'the three forged rows are refused');
  assert.is(q.promoted.length, 0, `only a and b endorse: ${JSON.stringify(q)}`);
  const e = await tenant('e');
  await writeBatch(blobs, e, [row(e, ref, 0.85, 'r1'), row(e, ref, 0.85, 'r2'), row(e, ref, 0.85, 'r3')]);
  const q2 = await tick();
  assert.is(q2.promoted.length, 1, 'a mean of exactly 0.85 endorses');
  assert.is(q2.promoted[0]!.tenants, 3);
  assert.is(q2.promoted[0]!.runs, 6);
});

test('thresholds are configurable per skill', async () => {
  const { blobs, tick } = await setup({ quorum: { minTenants: 2, minRuns: 2, skills: { strict: { minTenants: 3 } } } });
  const [a, b] = await Promise.all([tenant('a'), tenant('b')]);
  const easy = await stageRev(blobs, 'easy', 'Easy.\n');
  const strict = await stageRev(blobs, 'strict', 'Strict.\n');
  for (const t of [a, b]) await writeBatch(blobs, t, [row(t, `easy:${easy}`, 0.9, 'r'), row(t, `strict:${strict}`, 0.9, 'r')]);
  const q = await tick();
  assert.equal(q.promoted.map((p) => p.skill), ['easy']);
});

test('manual_review gates a rev until `snappy ops approve`, which records who approved', async () => {
  const { dir, remote, blobs, kv, tick } = await setup();
  const ts = await Promise.all([tenant('a'), tenant('b'), tenant('c')]);
  const rev = await stageRev(blobs, 'deploy', '---\nmanual_review: robert\n---\nDeploy carefully.\n');
  for (const t of ts) await writeBatch(blobs, t, [row(t, `deploy:${rev}`, 0.95, 'r1'), row(t, `deploy:${rev}`, 0.95, 'r2')]);
  const q = await tick();
  assert.is(q.promoted.length, 0, 'quorum never promotes a gated rev');
  assert.equal(q.gated, [`deploy:${rev}`]);
  assert.is(await promotionText(blobs, 'deploy', rev), null);
  const list = await runCli(['ops', 'revs', '--remote', `file://${remote}`, '--json'], { cwd: dir });
  assert.is(list.code, 0, list.stderr);
  const revs = JSON.parse(list.stdout).revs;
  assert.is(revs[0].state, 'gated');
  assert.is(revs[0].manualReview, 'robert');
  const bad = await runCli(['ops', 'approve', 'deploy', 'nothex', '--remote', `file://${remote}`], { cwd: dir });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, 'rev id "nothex" is not 12 lower-case hex characters');
  // The page's author asked for review as "robert"; the operator who approves is someone else,
  // and the record names the operator (here the OS user, as no --by is given), never the author.
  const ok = await runCli(['ops', 'approve', 'deploy', rev, '--remote', `file://${remote}`, '--json'], { cwd: dir, env: { USER: 'carol' } });
  assert.is(ok.code, 0, ok.stderr);
  const res = JSON.parse(ok.stdout);
  assert.is(res.promoted, true);
  assert.is(res.row.by, 'manual:carol', "the approver is the operator, not the page's manual_review name");
  assert.is(JSON.parse((await promotionText(blobs, 'deploy', rev))!).by, 'manual:carol');
  assert.is(await text(blobs, `${Remote.canonicalDir('deploy')}deploy.md`), '---\nmanual_review: robert\n---\nDeploy carefully.\n');
  assert.is(JSON.parse((await kv.get('last_quorum_promotion'))!).rev_id, rev);
  const again = await runCli(['ops', 'approve', 'deploy', rev, '--by', 'alice', '--remote', `file://${remote}`, '--json'], { cwd: dir });
  assert.is(JSON.parse(again.stdout).promoted, false, 'a second approval changes nothing');
  assert.is(JSON.parse((await promotionText(blobs, 'deploy', rev))!).by, 'manual:carol');
});

test('a rejected rev is never promoted by quorum', async () => {
  const { dir, remote, blobs, tick } = await setup();
  const ts = await Promise.all([tenant('a'), tenant('b'), tenant('c')]);
  const rev = await stageRev(blobs, 'bad', 'Bad idea.\n');
  const r = await runCli(['ops', 'reject', 'bad', rev, '--by', 'robert', '--reason', 'unsafe', '--remote', `file://${remote}`], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  for (const t of ts) await writeBatch(blobs, t, [row(t, `bad:${rev}`, 1, 'r1'), row(t, `bad:${rev}`, 1, 'r2')]);
  const q = await tick();
  assert.is(q.promoted.length, 0);
  const missing = await runCli(['ops', 'reject', 'bad', '000000000000', '--remote', `file://${remote}`], { cwd: dir });
  assert.is(missing.code, 1);
  assert.match(missing.stderr, 'no staged rev bad:000000000000');
});

test('`snappy run tick` prints one line per rev it decided or advanced, in words; --json carries every one with its numbers', async () => {
  const { dir, remote, blobs } = await setup({ quorum: { manualReview: ['deploy'] } });
  const [a, b, c] = await Promise.all([tenant('a'), tenant('b'), tenant('c')]);
  const ready = await stageRev(blobs, 'summarize', 'Summarize.\n');
  const growing = await stageRev(blobs, 'triage', 'Triage.\n');
  const quiet = await stageRev(blobs, 'billing', 'Billing.\n');
  const gated = await stageRev(blobs, 'deploy', 'Deploy.\n');
  // Staged with bytes that are not its rev id's: the first tick quarantines it.
  const forged = 'aaaaaaaaaaaa';
  await blobs.put(Remote.staged('notes', forged), 'Not the page that hashes to aaaaaaaaaaaa.\n');
  await writeBatch(blobs, a, [row(a, `billing:${quiet}`, 0.9, 'q1')]);
  const first = await runCli(['run', 'tick', '--remote', `file://${remote}`], { cwd: dir });
  assert.is(first.code, 0, first.stderr);
  for (const t of [a, b, c]) await writeBatch(blobs, t, [row(t, `summarize:${ready}`, 0.9, 'r1'), row(t, `summarize:${ready}`, 0.92, 'r2'), row(t, `deploy:${gated}`, 0.95, 'd1'), row(t, `deploy:${gated}`, 0.95, 'd2')]);
  await writeBatch(blobs, a, [row(a, `triage:${growing}`, 0.9, 't1'), row(a, `triage:${growing}`, 0.8, 't2')]);
  const r = await runCli(['run', 'tick', '--remote', `file://${remote}`], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines, [
    'tick: 4 new batches (14 rows), 1 promotion, 3 revs decided or advanced',
    `  deploy:${gated} gated: 3 of 3 tenants endorse; 6 runs, 5 needed; mean 0.950; waits for an operator (manual review: config quorum.manualReview)`,
    `  summarize:${ready} promoted: 3 of 3 tenants endorse; 6 runs, 5 needed; mean 0.910`,
    `  triage:${growing} pending: 1 of 3 tenants endorses; 2 runs, 5 needed; mean 0.850`,
  ], 'billing had no new runs: no line; the order is the listing order');
  assert.match(first.stdout, `  notes:${forged} quarantined: `, 'a rev quarantined by a tick gets its line too');
  assert.not.match(r.stdout + first.stdout, /\d+\/\d+ (runs|tenants)/);

  await writeBatch(blobs, b, [row(b, `triage:${growing}`, 0.95, 't1')]);
  const j = await runCli(['run', 'tick', '--remote', `file://${remote}`, '--json'], { cwd: dir });
  assert.is(j.code, 0, j.stderr);
  const q = JSON.parse(j.stdout).reports.tick.quorum;
  assert.equal(q.revs.map((x: { rev: string; outcome: string }) => [x.rev, x.outcome]), [[`deploy:${gated}`, 'gated'], [`triage:${growing}`, 'pending']]);
  const t = q.revs[1];
  assert.equal(t.progress, { endorsing: 2, endorsingRuns: 3, mean: 0.883333, minTenants: 3, minRuns: 5, words: '2 of 3 tenants endorse; 3 runs, 5 needed; mean 0.883' });
  assert.is(t.reason, '2 of 3 tenants endorse (a mean score of at least 0.85)');
});

test.run();
