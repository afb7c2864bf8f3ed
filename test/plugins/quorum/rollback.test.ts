// The post-promotion watch and its rollback, driven through `snappy run tick` and `snappy ops`
// on a file remote, with tenants' batches and shared pages written as their pushes write them.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { BlobKV } from '../../../adapters/blob-kv.ts';
import type { BlobStore } from '../../../core/ports.ts';
import type { AggRow } from '../../../domain/agg-row.ts';
import { Remote } from '../../../domain/layout.ts';
import { runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { entries, fileRemote, listKeys, row, stageRev, tenant, text, writeBatch, type Tenant } from './fleet.ts';

const DAY = 86_400_000;
const P_PAGE = '---\nname: summarize\n---\nSummarize in three bullet points.\n';
const R_PAGE = '---\nname: summarize\nbase_rev: p\n---\nSummarize in one long paragraph.\n';

/** A plain row of `skill` by `t` at time `ts` (epoch ms). */
function plain(t: Tenant, skill: string, score: number, run: string, ts: number): AggRow {
  return { _v: 1, ts: new Date(ts).toISOString(), skill, score, run_id: createHmac('sha256', t.masterKey).update(run).digest('hex').slice(0, 16), tenant: t.id, ok: score >= 0.5 };
}

async function setup(config: Record<string, unknown> = {}) {
  const dir = tmpDir('snappy-rollback-');
  // No grace: in these tests each tenant's runs after its adoption are the page's at once.
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], quorum: { watch: { graceMs: 0 }, ...config } }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const kv = new BlobKV(blobs);
  const cli = async (args: string[], env: Record<string, string> = {}, expect = 0) => {
    const r = await runCli([...args, '--remote', `file://${remote}`, '--json'], { cwd: dir, env: { USER: 'olga', ...env } });
    assert.is(r.code, expect, `snappy ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const tick = async () => (await cli(['run', 'tick'])).reports.tick.quorum as { promoted: any[]; rolledBack: any[]; watches: any[]; completed: string[]; problems: { key: string; reason: string }[] };
  const fleet = await Promise.all(['a', 'b', 'c', 'd'].map(tenant));
  return { dir, remote, blobs, kv, cli, tick, fleet };
}
type Setup = Awaited<ReturnType<typeof setup>>;

/** Stages `page` of `skill`, has the first three tenants endorse it, and ticks it to promotion. */
async function promoteRev(s: Setup, skill: string, page: string, run: string, extra: Record<string, string> = {}): Promise<string> {
  const rev = await stageRev(s.blobs, skill, page, extra);
  for (const t of s.fleet.slice(0, 3)) await writeBatch(s.blobs, t, [row(t, `${skill}:${rev}`, 0.9, `${run}-1`), row(t, `${skill}:${rev}`, 0.92, `${run}-2`)]);
  const q = await s.tick();
  assert.ok(q.promoted.some((p) => p.rev_id === rev), `setup: ${skill}:${rev} promoted`);
  return rev;
}

/** Ten runs of `skill` per tenant at `score`, three days back: the tenants' baselines. */
async function baselines(s: Setup, skill: string, tenants: Tenant[], score = 0.9): Promise<void> {
  for (const t of tenants) await writeBatch(s.blobs, t, Array.from({ length: 10 }, (_, i) => plain(t, skill, score, `base-${skill}-${i}`, Date.now() - 3 * DAY + i * 1000)));
}

/** Tenants push their page of `skill` (as a direct-mode push writes it); the next tick sees who adopted what. */
async function pushPages(s: Setup, skill: string, pages: [Tenant, string][]): Promise<void> {
  for (const [t, page] of pages) await s.blobs.put(Remote.tenantSkill(t.id, skill), page);
}

/** Runs of `skill` since now, one batch per tenant. */
async function runsNow(s: Setup, skill: string, per: [Tenant, number[]][], tag: string): Promise<void> {
  const t0 = Date.now() + 1000;
  for (const [t, scores] of per) await writeBatch(s.blobs, t, scores.map((x, i) => plain(t, skill, x, `${tag}-${i}`, t0 + i * 1000)));
}

/** P canonical, R promoted over it and adopted by `adopters` (a, b and c unless said), seen by a tick, with 0.9 baselines. */
async function promotedAndAdopted(s: Setup, skill = 'summarize', adopters = s.fleet.slice(0, 3)) {
  const p = await promoteRev(s, skill, P_PAGE.replace(/summarize/g, skill), `${skill}-p`, { 'examples.md': 'examples of P\n' });
  await baselines(s, skill, s.fleet);
  const r = await promoteRev(s, skill, R_PAGE.replace(/summarize/g, skill), `${skill}-r`, { 'notes.md': 'only in R\n' });
  await pushPages(s, skill, adopters.map((t) => [t, R_PAGE.replace(/summarize/g, skill)]));
  const q = await s.tick();
  const w = q.watches.find((x) => x.rev === r);
  assert.ok(w, 'setup: the promotion is watched');
  assert.is(w.verdict.adopted, adopters.length, 'setup: the tick saw the tenants adopt the page');
  return { p, r };
}

const canonicalFiles = async (blobs: BlobStore, skill: string) => {
  const out: Record<string, string> = {};
  for (const k of await listKeys(blobs, Remote.canonicalDir(skill))) out[k.slice(Remote.canonicalDir(skill).length)] = (await text(blobs, k))!;
  return out;
};

test('a promoted page whose tenants\' scores fall below their baselines is rolled back once: the previous canonical returns byte for byte, the rev is marked, KV last_quorum_rollback is set', async () => {
  const s = await setup();
  const { p, r } = await promotedAndAdopted(s);
  const [a, b, c] = s.fleet as [Tenant, Tenant, Tenant];
  await runsNow(s, 'summarize', [[a, Array(10).fill(0.5)], [b, Array(10).fill(0.55)]], 'post');
  let q = await s.tick();
  assert.equal(q.rolledBack, [], 'two objecting tenants are not a quorum');
  assert.is(q.watches[0].verdict.objecting, 2);
  await runsNow(s, 'summarize', [[c, Array(10).fill(0.4)]], 'post');
  q = await s.tick();
  assert.is(q.rolledBack.length, 1, 'the third objection rolls the page back');
  const e = q.rolledBack[0];
  assert.equal([e.seq, e.action, e.by, e.rev_id, e.rolled_back, e.restored, e.tenants, e.runs], [3, 'rollback', 'rollback', r, 2, { rev_id: p, seq: 1 }, 3, 30]);
  assert.equal(e.evidence.objecting.map((o: { tenant: string }) => o.tenant).sort(), [a.id, b.id, c.id].sort());
  assert.ok(e.evidence.objecting.every((o: { baseline: { mean: number } }) => o.baseline.mean === 0.9), 'each tenant against its own baseline');
  assert.equal(await canonicalFiles(s.blobs, 'summarize'), { 'summarize.md': P_PAGE, 'examples.md': 'examples of P\n' }, 'canonical is exactly P again: R\'s own file is gone');
  const last = JSON.parse((await s.kv.get('last_quorum_rollback'))!);
  assert.equal(last, { ts: e.ts, skill: 'summarize', rev_id: r, restored: p, by: 'rollback', tenants: 3, runs: 30 });
  assert.ok(await s.blobs.head(Remote.watchClosed('summarize', 2)), 'the watch is closed');
  // More runs, more ticks: nothing more happens, and the quorum never promotes R again although its tally holds.
  await runsNow(s, 'summarize', [[a, Array(5).fill(0.3)]], 'later');
  for (let i = 0; i < 2; i++) {
    q = await s.tick();
    assert.equal([q.rolledBack, q.promoted], [[], []]);
  }
  assert.equal((await entries(s.blobs, 'summarize')).map((x) => `${x.seq} ${x.action} ${x.rev_id}`), [`1 promote ${p}`, `2 promote ${r}`, `3 rollback ${r}`]);
  const revs = (await s.cli(['ops', 'revs'])).revs;
  assert.is(revs.find((x: { rev: string }) => x.rev === r).state, 'rolled-back');
  assert.is(revs.find((x: { rev: string }) => x.rev === p).canonical, true);
});

test('a promoted page whose scores hold is never rolled back; the watch says so', async () => {
  const s = await setup();
  const { r } = await promotedAndAdopted(s);
  const [a, b, c] = s.fleet as [Tenant, Tenant, Tenant];
  await runsNow(s, 'summarize', [[a, Array(10).fill(0.88)], [b, Array(10).fill(0.95)], [c, Array(12).fill(0.85)]], 'post');
  const q = await s.tick();
  assert.equal(q.rolledBack, []);
  const w = q.watches.find((x) => x.rev === r);
  assert.equal([w.outcome, w.verdict.objecting, w.verdict.adopted, w.verdict.runs], ['watching', 0, 3, 32]);
  const st = (await s.cli(['ops', 'watch'])).watches[0];
  assert.equal(st.tenants.map((t: { state: string }) => t.state), ['holds', 'holds', 'holds']);
  assert.is(await text(s.blobs, `${Remote.canonicalDir('summarize')}summarize.md`), R_PAGE);
});

test('noise never rolls back: one bad run, one objecting tenant, a tenant that never adopted the page, a revoked tenant', async () => {
  const s = await setup();
  const [a, b, c, d] = s.fleet as [Tenant, Tenant, Tenant, Tenant];
  // c never adopts R: its shared page is its own edit. d adopts it, then is revoked.
  await pushPages(s, 'summarize', [[c, `${P_PAGE}Edited by c.\n`]]);
  const { r } = await promotedAndAdopted(s, 'summarize', [a, b, d]);
  await s.cli(['ops', 'tenants', 'admit', d.id, 'A'.repeat(43)]);
  await s.cli(['ops', 'tenants', 'revoke', d.id]);
  await runsNow(s, 'summarize', [[a, [...Array(9).fill(0.9), 0]], [b, Array(10).fill(0.3)], [c, Array(10).fill(0.2)], [d, Array(10).fill(0.1)]], 'post');
  const q = await s.tick();
  assert.equal(q.rolledBack, []);
  const w = q.watches.find((x) => x.rev === r);
  assert.equal([w.outcome, w.verdict.objecting], ['watching', 1]);
  const st = (await s.cli(['ops', 'watch'])).watches[0];
  const by = Object.fromEntries(st.tenants.map((t: { tenant: string; state: string }) => [t.tenant, t.state]));
  assert.equal([by[a.id], by[b.id], by[c.id], by[d.id]], ['holds', 'objects', 'not adopted', 'revoked']);
  assert.is(await text(s.blobs, `${Remote.canonicalDir('summarize')}summarize.md`), R_PAGE);
});

test('a pinned rev is not rolled back by the watch; an operator still can (`snappy ops rollback`), and the second click rolls back nothing more', async () => {
  const s = await setup();
  const { p, r } = await promotedAndAdopted(s);
  const pin = await s.cli(['ops', 'pin', 'summarize', r, '--reason', 'known dip']);
  assert.equal([pin.changed, pin.entry.action, pin.entry.by], [true, 'pin', 'manual:olga']);
  await runsNow(s, 'summarize', s.fleet.slice(0, 3).map((t) => [t, Array(10).fill(0.2)] as [Tenant, number[]]), 'post');
  const q = await s.tick();
  assert.equal(q.rolledBack, []);
  assert.is(q.watches[0].outcome, 'pinned');
  const wrong = await s.cli(['ops', 'rollback', 'summarize', p], {}, 1);
  assert.is(wrong.error.code, 'E_QUORUM_NOT_CANONICAL');
  const rb = await s.cli(['ops', 'rollback', 'summarize', r, '--reason', 'customers complain']);
  assert.equal([rb.rolledBack, rb.entry.by, rb.entry.reason, rb.restored], [true, 'manual:olga', 'customers complain', { rev_id: p, seq: 1 }]);
  const again = await s.cli(['ops', 'rollback', 'summarize', r], {}, 1);
  assert.is(again.error.code, 'E_QUORUM_NOT_CANONICAL', 'R is no longer canonical: nothing more is rolled back');
  assert.is(await text(s.blobs, `${Remote.canonicalDir('summarize')}summarize.md`), P_PAGE);
  assert.equal((await entries(s.blobs, 'summarize')).map((x) => x.action), ['promote', 'promote', 'pin', 'rollback']);
});

test('promote, roll back, clear, promote again: four entries in order; the cleared rev is promoted again on its tally and watched anew', async () => {
  const s = await setup();
  const { p, r } = await promotedAndAdopted(s);
  await runsNow(s, 'summarize', s.fleet.slice(0, 3).map((t) => [t, Array(10).fill(0.3)] as [Tenant, number[]]), 'post');
  assert.is((await s.tick()).rolledBack.length, 1);
  const approve = await s.cli(['ops', 'approve', 'summarize', r], {}, 1);
  assert.is(approve.error.code, 'E_QUORUM_ROLLED_BACK', 'an approval waits until the mark is cleared');
  const clearP = await s.cli(['ops', 'clear', 'summarize', p], {}, 1);
  assert.is(clearP.error.code, 'E_QUORUM_NOT_ROLLED_BACK');
  const cleared = await s.cli(['ops', 'clear', 'summarize', r, '--reason', 'the eval set was broken']);
  assert.equal([cleared.changed, cleared.entry.action, cleared.entry.by], [true, 'clear', 'manual:olga']);
  assert.is((await s.cli(['ops', 'clear', 'summarize', r])).changed, false, 'clearing again changes nothing');
  const q = await s.tick();
  assert.equal(q.promoted.map((x) => [x.rev_id, x.by, x.previous]), [[r, 'quorum', { rev_id: p, seq: 1 }]]);
  const tail = (await entries(s.blobs, 'summarize')).slice(1).map((x) => [x.seq, x.action, x.rev_id, x.by]);
  assert.equal(tail, [
    [2, 'promote', r, 'quorum'],
    [3, 'rollback', r, 'rollback'],
    [4, 'clear', r, 'manual:olga'],
    [5, 'promote', r, 'quorum'],
  ]);
  assert.is(await text(s.blobs, `${Remote.canonicalDir('summarize')}summarize.md`), R_PAGE);
  assert.ok(await s.blobs.head(Remote.watch('summarize', 5)), 'the new promotion has a watch of its own');
  const head = JSON.parse((await text(s.blobs, Remote.changelogHead('summarize')))!);
  assert.equal([head.seq, head.canonical, head.revs[r]], [5, { rev_id: r, seq: 5 }, 'promoted']);
});

test('a page that replaced no canonical is withdrawn when rolled back, and the tick says so', async () => {
  const s = await setup();
  await baselines(s, 'triage', s.fleet);
  const r = await promoteRev(s, 'triage', 'Triage by gut feeling.\n', 'tri');
  await pushPages(s, 'triage', s.fleet.slice(0, 3).map((t) => [t, 'Triage by gut feeling.\n']));
  await s.tick();
  await runsNow(s, 'triage', s.fleet.slice(0, 3).map((t) => [t, Array(10).fill(0.2)] as [Tenant, number[]]), 'post');
  const q = await s.tick();
  assert.is(q.rolledBack.length, 1);
  assert.is(q.rolledBack[0].restored, null);
  assert.match(q.watches[0].reason, 'withdrawn');
  assert.equal(await listKeys(s.blobs, Remote.canonicalDir('triage')), [], 'no canonical page of triage any more');
  assert.is(JSON.parse((await s.kv.get('last_quorum_rollback'))!).restored, null);
  const none = await s.cli(['ops', 'rollback', 'triage'], {}, 1);
  assert.is(none.error.code, 'E_QUORUM_NOTHING_CANONICAL');
  assert.is(q.rolledBack[0].rev_id, r, 'the entry rolls back the rev that was promoted');
});

test('a previous canonical whose bytes changed since cannot be restored: no rollback entry, the problem is reported, canonical stays', async () => {
  const s = await setup();
  const { r } = await promotedAndAdopted(s);
  const pRev = (await entries(s.blobs, 'summarize'))[0]!.rev_id;
  await s.blobs.put(Remote.staged('summarize', pRev, 'examples.md'), 'changed after its promotion\n');
  await runsNow(s, 'summarize', s.fleet.slice(0, 3).map((t) => [t, Array(10).fill(0.2)] as [Tenant, number[]]), 'post');
  const q = await s.tick();
  assert.equal(q.rolledBack, []);
  assert.ok(q.problems.some((x) => /cannot be restored byte for byte: examples.md no longer matches its manifest/.test(x.reason)), JSON.stringify(q.problems));
  assert.equal((await entries(s.blobs, 'summarize')).map((x) => x.action), ['promote', 'promote']);
  assert.is(await text(s.blobs, `${Remote.canonicalDir('summarize')}summarize.md`), R_PAGE);
  const manual = await s.cli(['ops', 'rollback', 'summarize', r], {}, 1);
  assert.is(manual.error.code, 'E_QUORUM_CANNOT_RESTORE');
});

test.run();
