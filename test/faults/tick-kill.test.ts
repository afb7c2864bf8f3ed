import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../adapters/blob-kv.ts';
import { Remote } from '../../domain/layout.ts';
import { CheckpointLog, killAt } from '../helpers/checkpoints.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fileRemote, listKeys, promotionDone, promotionText, row, stageRev, tenant, writeBatch } from '../plugins/quorum/fleet.ts';

// Complements test/plugins/quorum/exactly-once.test.ts (kills that land wherever a write
// has got to, over quorums complete from the start): here quorums complete one after
// another, as tenants' batches keep arriving, and each tick is held at a seeded checkpoint
// of the promotion it is making (or of the scan before it) and killed there, so every kill
// lands exactly inside the step it names.
const seed = fuzzSeed('faults/tick-kill', 0x5eed_0102);
const REVS = 8;
const FILES = 30;

test('tick killed with -9 at seeded checkpoints (most mid-promotion) while quorums complete one by one, then rerun: each rev promoted exactly once, one changelog row each', async () => {
  const dir = tmpDir('snappy-tickkill-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'] }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const fleet = await Promise.all(['ka', 'kb', 'kc'].map(tenant));
  const revs: { skill: string; rev: string }[] = [];
  for (let i = 0; i < REVS; i++) {
    const skill = `skill-${i}`;
    await blobs.put(`${Remote.canonicalDir(skill)}stale-${i}.md`, 'stale');
    const extra = Object.fromEntries(Array.from({ length: FILES }, (_, f) => [`part-${f}.md`, `part ${f} of ${skill}\n`]));
    revs.push({ skill, rev: await stageRev(blobs, skill, `Page of ${skill}.\n`, extra) });
  }
  // Two tenants endorse every rev now; the third completes one quorum before each tick.
  for (const t of fleet.slice(0, 2)) await writeBatch(blobs, t, revs.flatMap(({ skill, rev }) => [row(t, `${skill}:${rev}`, 0.9, `${skill}-1`), row(t, `${skill}:${rev}`, 0.9, `${skill}-2`)]));
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const start = (env: Record<string, string>) => spawnCli(args, { cwd: dir, env });
  const rnd = prng(seed);
  // A tick whose rev has just reached its quorum passes every one of these points: the
  // changelog row stored, the n-th file copied into canonical, canonical replaced, KV updated
  // (or it dies after its scan, before promoting). A tick after one killed mid-promotion
  // finishes that promotion first: it copies every file again, replaces canonical, updates KV.
  const anyPoint = (r: number) =>
    r < 0.15 ? { point: 'tick:scanned', n: 1 } : r < 0.3 ? { point: 'promote:changelog-written', n: 1 } : completionPoint(rnd());
  const completionPoint = (r: number) =>
    r < 0.6 ? { point: 'promote:file-copied', n: 1 + Math.floor(rnd() * (FILES + 1)) } : r < 0.8 ? { point: 'promote:canonical-replaced', n: 1 } : { point: 'promote:kv-updated', n: 1 };
  const changelogs = new Map<string, string>();
  const landed: string[] = [];
  let planned = 0;
  let clean = 0;
  for (let i = 0; i < REVS; i++) {
    const { skill, rev } = revs[i]!;
    const t = fleet[2]!;
    await writeBatch(blobs, t, [row(t, `${skill}:${rev}`, 0.95, `${skill}-c`)]);
    const r = rnd();
    const kills = r < 0.15 ? 0 : r < 0.6 ? 1 : 2;
    for (let k = 0; k < kills; k++) {
      const started = (await promotionText(blobs, skill, rev)) !== null;
      const at = started ? completionPoint(rnd()) : anyPoint(rnd());
      planned++;
      const o = await killAt(new CheckpointLog(), start, { ...at, hold: true });
      assert.ok(o.killed, `tick for ${skill}: held at ${at.point} #${at.n} but it ended first (exit ${o.result.code}): ${o.result.stderr}`);
      const last = o.passes.at(-1)!;
      assert.equal([last.point, last.n], [at.point, at.n], `the tick for ${skill} went past the point it was held at`);
      landed.push(`${at.point}#${at.n}`);
      for (const { skill: s } of revs) {
        const body = await promotionText(blobs, s, revs.find((x) => x.skill === s)!.rev);
        if (!body) continue;
        if (changelogs.has(s)) assert.is(body, changelogs.get(s), `${s}: the changelog row is never rewritten (after a kill at ${landed.at(-1)})`);
        changelogs.set(s, body);
      }
    }
    if (kills === 0) {
      // Some ticks run to the end, so later quorums meet finished promotions too.
      const res = await runCli(args, { cwd: dir });
      assert.is(res.code, 0, res.stderr);
      clean++;
    }
  }
  const midPromotion = landed.filter((l) => l.startsWith('promote:')).length;
  assert.is(landed.length, planned, 'a planned kill did not land');
  const last = await runCli(args, { cwd: dir });
  assert.is(last.code, 0, last.stderr);
  const again = await runCli(args, { cwd: dir });
  assert.equal(JSON.parse(again.stdout).reports.tick.quorum.promoted, [], 'nothing left to promote');
  for (const { skill, rev } of revs) {
    assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}${skill}/`), [Remote.changelogEntry(skill, 1)], `${skill}: one changelog row`);
    const canon = (await listKeys(blobs, Remote.canonicalDir(skill))).map((k) => k.slice(Remote.canonicalDir(skill).length)).sort();
    const staged = (await listKeys(blobs, Remote.stagedDir(skill, rev))).map((k) => k.slice(Remote.stagedDir(skill, rev).length)).sort();
    assert.equal(canon, staged, `${skill}: canonical is exactly the rev's folder, the stale page gone`);
    assert.ok(await promotionDone(blobs, skill, rev), `${skill}: promotion finished`);
    if (changelogs.has(skill)) assert.is(await promotionText(blobs, skill, rev), changelogs.get(skill), `${skill}: row unchanged by the reruns`);
  }
  const lqp = JSON.parse((await new BlobKV(blobs).get('last_quorum_promotion'))!);
  assert.ok(revs.some((r) => r.rev === lqp.rev_id));
  console.log(`[faults/tick-kill] ${landed.length} kills over ${REVS} quorums (${clean} ticks ran clean), ${midPromotion} mid-promotion, ${landed.length - midPromotion} after the scan: ${landed.join(' ')}`);
});

test.run();
