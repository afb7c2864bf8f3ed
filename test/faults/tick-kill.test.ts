import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../adapters/blob-kv.ts';
import { Remote } from '../../domain/layout.ts';
import { collect, runCli, spawnCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fileRemote, listKeys, row, stageRev, tenant, text, writeBatch } from '../plugins/quorum/fleet.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';

// Complements test/plugins/quorum/exactly-once.test.ts (kills at unseeded times over quorums
// complete from the start): here the kill points are seeded and many are anchored to the
// moment a promotion starts writing (the first new object under snappy-os/), and quorums
// complete one after another between the kills, as tenants' batches keep arriving.
const seed = fuzzSeed('faults/tick-kill', 0x5eed_0102);
const rnd = prng(seed);
const REVS = 8;
const FILES = 30;

/** Every file under `dir`, relative. */
function files(dir: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(path.join(dir, prefix), { withFileTypes: true }).map((d) => (d.isDirectory() ? `${d.name}/` : d.name));
  } catch {
    return [];
  }
  return names.flatMap((n) => (n.endsWith('/') ? files(dir, `${prefix}${n}`) : [`${prefix}${n}`]));
}

test('tick killed with -9 at seeded points (many mid-promotion) while quorums complete one by one, then rerun: each rev promoted exactly once, one changelog row each', async () => {
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
  // Two tenants endorse every rev now; the third endorses one more before each tick.
  for (const t of fleet.slice(0, 2)) await writeBatch(blobs, t, revs.flatMap(({ skill, rev }) => [row(t, `${skill}:${rev}`, 0.9, `${skill}-1`), row(t, `${skill}:${rev}`, 0.9, `${skill}-2`)]));
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const changelogs = new Map<string, string>();
  let next = 0;
  let kills = 0;
  let anchored = 0;
  const log: string[] = [];
  for (let i = 0; next < REVS || i < 14; i++) {
    if (next < REVS) {
      const k = next + 1;
      const t = fleet[2]!;
      await writeBatch(blobs, t, revs.slice(next, k).flatMap(({ skill, rev }) => [row(t, `${skill}:${rev}`, 0.95, `${skill}-c`)]));
      next = k;
    }
    const before = new Set(files(remote, 'snappy-os/'));
    const child = spawnCli(args, { cwd: dir });
    const pick = rnd();
    const anchor = pick < 0.5;
    const clean = pick >= 0.85; // some ticks run to the end, so later quorums meet finished promotions
    const extra = Math.floor(rnd() * (anchor ? 40 : 1500));
    let killer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    if (anchor) {
      // Kill `extra` ms after the promotion's first write appears.
      poll = setInterval(() => {
        if (files(remote, 'snappy-os/').some((f) => !before.has(f))) {
          clearInterval(poll);
          anchored++;
          killer = setTimeout(() => child.kill('SIGKILL'), extra);
        }
      }, 3);
    } else if (!clean) killer = setTimeout(() => child.kill('SIGKILL'), 200 + extra);
    const r = await collect(child);
    clearInterval(poll);
    clearTimeout(killer);
    if (r.signal === 'SIGKILL') kills++;
    else assert.is(r.code, 0, r.stderr);
    log.push(clean ? `clean:${r.code}` : `${anchor ? 'anchored' : 'timed'}+${extra}ms:${r.signal ?? r.code}`);
    for (const { skill, rev } of revs) {
      const row = await text(blobs, Remote.changelog(skill, rev));
      if (!row) continue;
      if (changelogs.has(skill)) assert.is(row, changelogs.get(skill), `${skill}: the changelog row is never rewritten (${log.at(-1)})`);
      changelogs.set(skill, row);
    }
  }
  const last = await runCli(args, { cwd: dir });
  assert.is(last.code, 0, last.stderr);
  const again = await runCli(args, { cwd: dir });
  assert.equal(JSON.parse(again.stdout).reports.tick.quorum.promoted, [], 'nothing left to promote');
  for (const { skill, rev } of revs) {
    assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}${skill}/`), [Remote.changelog(skill, rev)], `${skill}: one changelog row`);
    const canon = (await listKeys(blobs, Remote.canonicalDir(skill))).map((k) => k.slice(Remote.canonicalDir(skill).length)).sort();
    const staged = (await listKeys(blobs, Remote.stagedDir(skill, rev))).map((k) => k.slice(Remote.stagedDir(skill, rev).length)).sort();
    assert.equal(canon, staged, `${skill}: canonical is exactly the rev's folder, the stale page gone`);
    assert.ok(await blobs.head(Remote.promotionDone(skill, rev)), `${skill}: promotion finished`);
    if (changelogs.has(skill)) assert.is(await text(blobs, Remote.changelog(skill, rev)), changelogs.get(skill), `${skill}: row unchanged by the reruns`);
  }
  const lqp = JSON.parse((await new BlobKV(blobs).get('last_quorum_promotion'))!);
  assert.ok(revs.some((r) => r.rev === lqp.rev_id));
  assert.ok(kills >= 6, `only ${kills} ticks were killed: ${log.join(' ')}`);
  console.log(`[faults/tick-kill] ${kills} kills (${anchored} anchored to a promotion's first write) over ${log.length} ticks: ${log.join(' ')}`);
});

test.run();
