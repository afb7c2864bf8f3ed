import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Remote } from '../../../domain/layout.ts';
import { CheckpointLog, killAt } from '../../helpers/checkpoints.ts';
import { collect, runCli, spawnCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { entries, fileRemote, row, stageRev, tenant, text, writeBatch } from './fleet.ts';

const DAY = 86_400_000;

async function setup(config: Record<string, unknown> = {}) {
  const dir = tmpDir('snappy-expiry-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], ...config }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const at = (now?: number) => (now === undefined ? {} : { SNAPPY_NOW: String(now) });
  const cli = async (args: string[], now?: number) => runCli([...args, '--remote', `file://${remote}`, '--json'], { cwd: dir, env: at(now) });
  const tick = async (now?: number) => {
    const r = await cli(['run', 'tick'], now);
    assert.is(r.code, 0, `tick failed: ${r.stderr}`);
    return JSON.parse(r.stdout).reports.tick.quorum as { promoted: { skill: string; rev_id: string }[]; expired: string[]; completed: string[]; revs: { rev: string; outcome: string; reason: string }[]; scan: { unstaged: number } };
  };
  const revs = async (now?: number) => {
    const r = await cli(['ops', 'revs'], now);
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).revs as Record<string, any>[];
  };
  const since = async (skill: string, rev: string) => Date.parse(JSON.parse((await text(blobs, Remote.since(skill, rev)))!).ts);
  return { dir, remote, blobs, cli, tick, revs, since, at };
}

test('a rev not promoted within 14 days expires once, with its last progress; status and ops revs say so; its later runs do not count', async () => {
  const { blobs, dir, remote, cli, tick, revs, since } = await setup();
  const [a, b] = await Promise.all([tenant('a'), tenant('b')]);
  const rev = await stageRev(blobs, 'summarize', 'Summarize well.\n');
  const ref = `summarize:${rev}`;
  await writeBatch(blobs, a, [1, 2, 3].map((i) => row(a, ref, 0.9, `a${i}`)));
  await writeBatch(blobs, b, [1, 2, 3].map((i) => row(b, ref, 0.9, `b${i}`)));
  let q = await tick();
  assert.equal(q.expired, [], 'a fresh rev does not expire');
  const t0 = await since('summarize', rev);
  let r = (await revs(t0 + 11 * DAY + 3_600_000)).find((x) => x.rev === rev)!;
  assert.is(r.state, 'pending');
  assert.is(r.expiry.expiresAt, new Date(t0 + 14 * DAY).toISOString(), 'the clock runs from the tick that first saw the rev');
  assert.is(r.expiry.words, 'expires in 2 days');
  assert.is(r.expiry.days, 14);
  const st = await cli(['status'], t0 + 13 * DAY + 2 * 3_600_000);
  assert.is(st.code, 0, st.stderr);
  assert.match(st.stdout.replace(/\n/g, ' '), /"expires in 21 hours"/, 'snappy status --json carries the countdown');
  const human = await runCli(['status', '--remote', `file://${remote}`], { cwd: dir, env: { SNAPPY_NOW: String(t0 + 11 * DAY + 3_600_000) } });
  assert.match(human.stdout, new RegExp(`summarize:${rev} pending: 2 of 3 tenants endorse; 6 runs, 5 needed; mean 0\\.900; expires in 2 days`));

  q = await tick(t0 + 14 * DAY - 60_000);
  assert.equal(q.expired, [], 'a minute before its time it still waits');
  q = await tick(t0 + 14 * DAY + 60_000);
  assert.equal(q.expired, [ref]);
  const expected = 'expired after 14 days: 2 of 3 tenants endorse; 6 runs, 5 needed; mean 0.900';
  const out = q.revs.find((x) => x.rev === ref)!;
  assert.equal([out.outcome, out.reason], ['expired', expected]);
  let log = await entries(blobs, 'summarize');
  assert.equal(log.map((e) => [e.seq, e.action, e.rev_id, e.by, e.tenants, e.runs, e.reason]), [[1, 'expire', rev, 'quorum', 2, 6, expected]]);
  assert.ok(await blobs.head(Remote.entryDone('summarize', 1, 'expire', rev)), 'its effects are done');

  // A third tenant's runs after the expiry are not counted: the rev is not evaluated any more.
  const c = await tenant('c');
  await writeBatch(blobs, c, [1, 2].map((i) => row(c, ref, 0.95, `c${i}`)));
  q = await tick(t0 + 20 * DAY);
  assert.equal([q.expired, q.promoted], [[], []], 'a later tick expires nothing again and promotes nothing');
  assert.is(q.scan.unstaged, 2, "the expired rev's new runs are dropped");
  log = await entries(blobs, 'summarize');
  assert.is(log.length, 1, 'one expire entry, whatever the ticks after it');
  r = (await revs(t0 + 20 * DAY)).find((x) => x.rev === rev)!;
  assert.is(r.state, 'expired');
  assert.equal([r.expiry.expired.seq, r.expiry.expired.by, r.expiry.expired.reason], [1, 'quorum', expected]);
  assert.match(r.expiry.words, `expired ${log[0]!.ts} (${expected})`);
  const line = await runCli(['ops', 'revs', '--remote', `file://${remote}`], { cwd: dir, env: { SNAPPY_NOW: String(t0 + 20 * DAY) } });
  assert.match(line.stdout, `summarize:${rev}  expired`);
  assert.match(line.stdout, expected);
});

test('an operator revives an expired rev (audited in the changelog, once); its clock starts over, and the quorum can still promote it', async () => {
  const { blobs, cli, tick, revs, since } = await setup();
  const [a, b, c] = await Promise.all([tenant('a'), tenant('b'), tenant('c')]);
  const rev = await stageRev(blobs, 'triage', 'Triage.\n');
  const other = await stageRev(blobs, 'triage', 'Triage, other.\n');
  const ref = `triage:${rev}`;
  await writeBatch(blobs, a, [1, 2].map((i) => row(a, ref, 0.9, `a${i}`)));
  await writeBatch(blobs, b, [1, 2].map((i) => row(b, ref, 0.9, `b${i}`)));
  await tick();
  const t0 = await since('triage', rev);
  const later = t0 + 15 * DAY;
  let q = await tick(later);
  assert.equal(q.expired.sort(), [ref, `triage:${other}`].sort());

  const refused = await cli(['ops', 'revive', 'triage', 'aaaaaaaaaaaa', '--by', 'robert'], later);
  assert.is(refused.code, 1, refused.stdout);
  const fresh = await stageRev(blobs, 'triage', 'Triage, fresh.\n');
  const notExpired = await cli(['ops', 'revive', 'triage', fresh, '--by', 'robert'], later);
  assert.is(notExpired.code, 1);
  assert.match(JSON.parse(notExpired.stdout).error.message, 'is not expired: there is nothing to revive');

  const rv = await cli(['ops', 'revive', 'triage', rev, '--by', 'robert', '--reason', 'one more week'], later + 1000);
  assert.is(rv.code, 0, rv.stderr);
  assert.equal([JSON.parse(rv.stdout).changed, JSON.parse(rv.stdout).entry.by, JSON.parse(rv.stdout).entry.action], [true, 'manual:robert', 'revive']);
  // The shifted clock runs on from SNAPPY_NOW: the entry says when exactly.
  const revivedAt = Date.parse(JSON.parse(rv.stdout).entry.ts);
  assert.ok(revivedAt >= later + 1000);
  const again = await cli(['ops', 'revive', 'triage', rev, '--by', 'robert'], later + 2000);
  assert.equal([again.code, JSON.parse(again.stdout).changed], [0, false], 'a second revive changes nothing');
  const log = await entries(blobs, 'triage');
  assert.equal(log.map((e) => [e.action, e.rev_id, e.by]).slice(-1), [['revive', rev, 'manual:robert']]);
  assert.is(log.filter((e) => e.action === 'revive').length, 1);

  let r = (await revs(later + 3 * DAY)).find((x) => x.rev === rev)!;
  assert.equal([r.state, r.expiry.expiresAt, r.expiry.reopened.by], ['pending', new Date(revivedAt + 14 * DAY).toISOString(), 'manual:robert']);
  assert.is(r.expiry.words, `expires in 11 days (revived ${new Date(revivedAt).toISOString()} by manual:robert)`);
  q = await tick(later + 3 * DAY);
  assert.equal(q.expired, [], 'the revive restarted the clock');
  // Runs after the revive count again, with the runs before the expiry.
  await writeBatch(blobs, c, [1, 2].map((i) => row(c, ref, 0.9, `c${i}`)));
  q = await tick(later + 4 * DAY);
  assert.equal(q.promoted.map((p) => p.rev_id), [rev], 'the revived rev reaches its quorum and is promoted');
  r = (await revs(later + 4 * DAY)).find((x) => x.rev === rev)!;
  assert.is(r.state, 'promoted');
  q = await tick(later + 40 * DAY);
  assert.ok(!q.expired.includes(ref), 'a promoted rev never expires');
  assert.ok(q.expired.includes(`triage:${fresh}`), 'the rev staged later expires on its own clock');
});

test('two ticks racing past the expiry store one expire entry per rev', async () => {
  const { blobs, dir, remote, tick, since } = await setup();
  const skills = ['s0', 's1', 's2', 's3'];
  const staged = await Promise.all(skills.map((s) => stageRev(blobs, s, `Page of ${s}.\n`)));
  await tick();
  const future = String((await since('s0', staged[0]!)) + 15 * DAY);
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const both = await Promise.all([1, 2].map(() => runCli(args, { cwd: dir, env: { SNAPPY_NOW: future } })));
  for (const o of both) assert.is(o.code, 0, o.stderr);
  const made = both.flatMap((o) => JSON.parse(o.stdout).reports.tick.quorum.expired as string[]);
  assert.equal(made.sort(), skills.map((s, i) => `${s}:${staged[i]}`).sort(), 'each rev was expired by exactly one of the two');
  for (const [i, s] of skills.entries()) {
    assert.equal((await entries(blobs, s)).map((e) => [e.seq, e.action]), [[1, 'expire']], `${s}: one entry`);
    assert.ok(await blobs.head(Remote.entryDone(s, 1, 'expire', staged[i]!)), `${s}: finished`);
  }
});

test('a tick that judged a rev before another tick expired it finds the entry and adds none', async () => {
  const { blobs, dir, remote, tick, since } = await setup();
  const rev = await stageRev(blobs, 'review', 'Review.\n');
  await tick();
  const future = String((await since('review', rev)) + 15 * DAY);
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  // A has read the history (nothing expired yet) and waits; B expires the rev meanwhile.
  const log = new CheckpointLog();
  const a = spawnCli(args, { cwd: dir, env: { ...log.env({ point: 'tick:scanned', n: 1 }), SNAPPY_NOW: future } });
  const aDone = collect(a);
  await log.until((ps) => ps.some((p) => p.pid === a.pid && p.point === 'tick:scanned'), () => undefined);
  const b = await tick(Number(future));
  assert.equal(b.expired, [`review:${rev}`]);
  log.release();
  const ra = await aDone;
  assert.is(ra.code, 0, ra.stderr);
  assert.equal(JSON.parse(ra.stdout).reports.tick.quorum.expired, [], 'A decided again on the log with B\'s entry in it');
  assert.equal((await entries(blobs, 'review')).map((e) => [e.seq, e.action]), [[1, 'expire']]);
});

test('a tick kill -9ed between the expire entry and its done marker is finished by the next tick, without a second entry', async () => {
  const { blobs, dir, remote, tick, since } = await setup();
  const rev = await stageRev(blobs, 'deploy', 'Deploy.\n');
  await tick();
  const future = String((await since('deploy', rev)) + 15 * DAY);
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const o = await killAt(new CheckpointLog(), (env) => spawnCli(args, { cwd: dir, env: { ...env, SNAPPY_NOW: future } }), { point: 'expire:recorded', n: 1, hold: true });
  assert.ok(o.killed, `the tick was killed at expire:recorded (${o.result.stderr})`);
  assert.equal((await entries(blobs, 'deploy')).map((e) => e.action), ['expire'], 'the entry is written');
  assert.not.ok(await blobs.head(Remote.entryDone('deploy', 1, 'expire', rev)), 'its done marker is not');
  const q = await tick(Number(future));
  assert.equal(q.completed, [`deploy:${rev} (#1 expire)`], 'the next tick finishes it');
  assert.equal(q.expired, [], 'it stored no expiry of its own');
  assert.equal((await entries(blobs, 'deploy')).map((e) => [e.seq, e.action]), [[1, 'expire']], 'still one entry');
  assert.ok(await blobs.head(Remote.entryDone('deploy', 1, 'expire', rev)));
  const again = await tick(Number(future) + DAY);
  assert.equal([again.completed, again.expired], [[], []]);
});

test('a rev approved, rolled back and cleared long after it was staged gets a fresh expiry clock from the clear', async () => {
  const { blobs, cli, tick, since, revs } = await setup();
  const rev = await stageRev(blobs, 'lint', 'Lint.\n');
  await tick();
  const t0 = await since('lint', rev);
  // Approved without a quorum: once cleared, nothing promotes it again but another approval.
  const ap = await cli(['ops', 'approve', 'lint', rev, '--by', 'robert'], t0 + 1000);
  assert.is(ap.code, 0, ap.stderr);
  const rb = await cli(['ops', 'rollback', 'lint', rev, '--by', 'robert'], t0 + 20 * DAY);
  assert.is(rb.code, 0, rb.stderr);
  const cl = await cli(['ops', 'clear', 'lint', rev, '--by', 'robert'], t0 + 20 * DAY);
  assert.is(cl.code, 0, cl.stderr);
  const clearedAt = Date.parse(JSON.parse(cl.stdout).entry.ts);
  assert.equal((await tick(clearedAt + 13 * DAY)).expired, [], 'cleared 13 days ago: still open, though staged 33 days ago');
  const r = (await revs(clearedAt + 13 * DAY)).find((x) => x.rev === rev)!;
  assert.equal([r.expiry.reopened.action, r.expiry.words], ['clear', `expires in 23 hours (cleared ${new Date(clearedAt).toISOString()} by manual:robert)`]);
  assert.equal((await tick(clearedAt + 14 * DAY + 60_000)).expired, [`lint:${rev}`]);
});

test('expiryDays per skill; 0 never expires; a bad value is refused naming the option', async () => {
  const { blobs, tick, since, revs } = await setup({ quorum: { expiryDays: 3, skills: { keep: { expiryDays: 0 } } } });
  const quick = await stageRev(blobs, 'quick', 'Quick.\n');
  const keep = await stageRev(blobs, 'keep', 'Keep.\n');
  await tick();
  const t0 = await since('quick', quick);
  const q = await tick(t0 + 3 * DAY + 60_000);
  assert.equal(q.expired, [`quick:${quick}`]);
  assert.equal((await tick(t0 + 400 * DAY)).expired, []);
  const k = (await revs(t0 + 400 * DAY)).find((x) => x.rev === keep)!;
  assert.equal([k.state, k.expiry.expiresAt, k.expiry.words], ['pending', null, 'never expires']);
  const bad = await setup({ quorum: { expiryDays: -1 } });
  const r = await bad.cli(['run', 'tick']);
  assert.is(r.code, 2);
  assert.match(r.stdout + r.stderr, 'quorum.expiryDays');
});

test.run();
