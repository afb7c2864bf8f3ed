import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../../adapters/blob-kv.ts';
import { Remote } from '../../../domain/layout.ts';
import { CheckpointLog, killAt } from '../../helpers/checkpoints.ts';
import { collect, runCli, spawnCli } from '../../helpers/cli.ts';
import { fuzzSeed, prng } from '../../helpers/seed.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { fileRemote, listKeys, promotionDone, promotionText, row, stageRev, tenant, writeBatch } from './fleet.ts';

const seed = fuzzSeed('quorum/exactly-once', 0x0_0c_e5);
const REVS = 6;
const FILES = 25;

async function fleetWithQuorums() {
  const dir = tmpDir('snappy-once-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'] }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const ts = await Promise.all(['a', 'b', 'c'].map(tenant));
  const revs: { skill: string; rev: string }[] = [];
  for (let i = 0; i < REVS; i++) {
    const skill = `skill-${i}`;
    const extra = Object.fromEntries(Array.from({ length: FILES }, (_, f) => [`part-${f}.md`, `part ${f} of ${skill}\n`]));
    await blobs.put(`${Remote.canonicalDir(skill)}stale-${i}.md`, 'stale');
    revs.push({ skill, rev: await stageRev(blobs, skill, `Page of ${skill}.\n`, extra) });
  }
  for (const t of ts) await writeBatch(blobs, t, revs.flatMap(({ skill, rev }) => [row(t, `${skill}:${rev}`, 0.9, `${skill}-1`), row(t, `${skill}:${rev}`, 0.9, `${skill}-2`)]));
  return { dir, remote, blobs, revs, args: ['run', 'tick', '--remote', `file://${remote}`, '--json'] };
}

async function assertPromotedOnce(blobs: ReturnType<typeof fileRemote>, revs: { skill: string; rev: string }[]) {
  for (const { skill, rev } of revs) {
    assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}${skill}/`), [Remote.changelogEntry(skill, 1)], `${skill}: one changelog row`);
    const canon = (await listKeys(blobs, Remote.canonicalDir(skill))).map((k) => k.slice(Remote.canonicalDir(skill).length)).sort();
    const staged = (await listKeys(blobs, Remote.stagedDir(skill, rev))).map((k) => k.slice(Remote.stagedDir(skill, rev).length)).sort();
    assert.equal(canon, staged, `${skill}: canonical is exactly the rev's folder`);
    assert.ok(await promotionDone(blobs, skill, rev), `${skill}: promotion finished`);
  }
}

/**
 * One fleet's six quorums, promoted by ticks killed at seeded checkpoints and rerun. A kill is
 * sent as its point is reported, not held there, so on a loaded machine it can arrive after the
 * tick has finished everything: such a kill is counted as late, and the caller plays a fresh
 * fleet until a kill lands inside a promotion.
 */
async function killedTicks(rnd: () => number) {
  const { dir, blobs, revs, args } = await fleetWithQuorums();
  const rows = new Map<string, string>();
  const landed: string[] = [];
  let late = 0;
  for (let i = 0; i < 6; i++) {
    // The first tick finds six quorums; each later one finishes what the killed ones left.
    // Each kill point leaves at least one whole promotion after it, so the kill lands while the
    // tick is still promoting unless the machine is slow to deliver it.
    const left = revs.filter(({ skill }) => !rows.has(skill)).length;
    const ahead = left - 1;
    const at = ahead < 1 ? undefined : rnd() < 0.3 ? { point: 'promote:changelog-written', n: 1 + Math.floor(rnd() * ahead) } : { point: 'promote:file-copied', n: 1 + Math.floor(rnd() * (FILES + 1) * ahead) };
    const o = await killAt(new CheckpointLog(), (env) => spawnCli(args, { cwd: dir, env }), at ? { ...at, hold: false } : { point: 'never', n: 1, hold: false });
    if (o.killed) landed.push(`${at!.point}#${at!.n}`);
    else {
      assert.is(o.result.code, 0, o.result.stderr);
      if (at && o.passes.some((p) => p.point === at.point && p.n === at.n)) late++;
    }
    for (const { skill, rev } of revs) {
      const t = await promotionText(blobs, skill, rev);
      if (!t) continue;
      if (rows.has(skill)) assert.is(t, rows.get(skill), `${skill}: the changelog row is never rewritten (tick ${i}, ${o.killed ? `killed after ${at!.point} #${at!.n}` : 'not killed'})`);
      rows.set(skill, t);
    }
  }
  const last = await runCli(args, { cwd: dir });
  assert.is(last.code, 0, last.stderr);
  const again = await runCli(args, { cwd: dir });
  assert.equal(JSON.parse(again.stdout).reports.tick.quorum.promoted, [], 'nothing left to promote');
  await assertPromotedOnce(blobs, revs);
  for (const { skill, rev } of revs) if (rows.has(skill)) assert.is(await promotionText(blobs, skill, rev), rows.get(skill));
  const lqp = JSON.parse((await new BlobKV(blobs).get('last_quorum_promotion'))!);
  assert.ok(revs.some((r) => r.rev === lqp.rev_id));
  return { landed, late };
}

test('ticks killed with -9 as they pass seeded checkpoints of their promotions (wherever the tick has got to by then), then rerun: every rev promoted exactly once', async () => {
  const rnd = prng(seed);
  const landed: string[] = [];
  let late = 0;
  let fleets = 0;
  while (landed.length === 0 && fleets < 4) {
    fleets++;
    const r = await killedTicks(rnd);
    landed.push(...r.landed);
    late += r.late;
  }
  assert.ok(landed.length > 0, `no kill landed inside a promotion over ${fleets} fleets (${late} arrived after the tick had ended): the test tried nothing`);
  console.log(`[quorum/exactly-once] ${landed.length} ticks killed inside a promotion over ${fleets} fleet(s) (${late} kills arrived after the tick ended): ${landed.join(' ')}`);
});

test('two ticks held after their scans until both have scanned, then let go together: every promotion is claimed by exactly one of them', async () => {
  const { dir, blobs, revs, args } = await fleetWithQuorums();
  const log = new CheckpointLog();
  const run = () => collect(spawnCli(args, { cwd: dir, env: log.env({ point: 'tick:scanned', n: 1 }) }));
  const both = [run(), run()];
  let ended = 0;
  for (const r of both) void r.then(() => ended++);
  await log.until((ps) => ps.filter((p) => p.point === 'tick:scanned').length === 2, () => (ended ? 'a tick ended before the barrier' : undefined));
  log.release();
  const [x, y] = await Promise.all(both);
  assert.is(x!.code, 0, x!.stderr);
  assert.is(y!.code, 0, y!.stderr);
  const claimed = [x!, y!].flatMap((r) => JSON.parse(r.stdout).reports.tick.quorum.promoted.map((p: { skill: string }) => p.skill));
  assert.equal(claimed.sort(), revs.map((r) => r.skill).sort());
  await assertPromotedOnce(blobs, revs);
});

test.run();
