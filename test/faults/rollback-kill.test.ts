import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../adapters/blob-kv.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { CheckpointLog, killAt } from '../helpers/checkpoints.ts';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { fuzzSeed, prng } from '../helpers/seed.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { entries, entryTexts, fileRemote, listKeys, row, stageRev, tenant, text, writeBatch, type Tenant } from '../plugins/quorum/fleet.ts';

// Rollbacks complete one by one, as the third tenant's objecting runs arrive for each skill in
// turn; each tick is held at a seeded checkpoint of the rollback it is making (or finishing),
// or after its scan, and killed there with -9. Then reruns. Every skill must end rolled back
// exactly once: one rollback entry, never rewritten, canonical exactly the earlier page's files.
const seed = fuzzSeed('faults/rollback-kill', 0x5eed_0119);
const SKILLS = 4;
const FILES = 12;
const DAY = 86_400_000;

function plain(t: Tenant, skill: string, score: number, run: string, ts: number): AggRow {
  return { _v: 1, ts: new Date(ts).toISOString(), skill, score, run_id: createHmac('sha256', t.masterKey).update(run).digest('hex').slice(0, 16), tenant: t.id, ok: score >= 0.5 };
}

test('tick killed with -9 at seeded checkpoints of its rollbacks (after the entry, the n-th file restored, canonical restored, KV updated) and rerun: each page rolled back exactly once, the earlier canonical back byte for byte', async () => {
  const dir = tmpDir('snappy-rbkill-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], quorum: { watch: { graceMs: 0 } } }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const tick = async () => {
    const r = await runCli(args, { cwd: dir });
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).reports.tick.quorum;
  };
  const fleet = await Promise.all(['ra', 'rb', 'rc'].map(tenant));
  const skills = Array.from({ length: SKILLS }, (_, i) => `skill-${i}`);
  const earlier = new Map<string, Record<string, string>>();
  const endorse = async (revs: Map<string, string>, tag: string) => {
    for (const t of fleet) await writeBatch(blobs, t, [...revs].flatMap(([s, rev]) => [row(t, `${s}:${rev}`, 0.9, `${s}-${tag}-1`), row(t, `${s}:${rev}`, 0.9, `${s}-${tag}-2`)]));
  };
  // Every skill: P (FILES + 1 files) canonical, then R promoted over it and adopted by all three tenants.
  const ps = new Map<string, string>();
  for (const s of skills) {
    const files = Object.fromEntries(Array.from({ length: FILES }, (_, f) => [`part-${f}.md`, `part ${f} of P of ${s}\n`]));
    earlier.set(s, { ...files, [`${s}.md`]: `P of ${s}.\n` });
    ps.set(s, await stageRev(blobs, s, `P of ${s}.\n`, files));
  }
  await endorse(ps, 'p');
  assert.is((await tick()).promoted.length, SKILLS);
  for (const t of fleet) await writeBatch(blobs, t, skills.flatMap((s) => Array.from({ length: 10 }, (_, i) => plain(t, s, 0.9, `${s}-base-${i}`, Date.now() - 2 * DAY + i))));
  const rs = new Map<string, string>();
  for (const s of skills) rs.set(s, await stageRev(blobs, s, `R of ${s}.\n`, { 'only-in-r.md': 'r\n' }));
  await endorse(rs, 'r');
  assert.is((await tick()).promoted.length, SKILLS);
  for (const t of fleet) for (const s of skills) await blobs.put(Remote.tenantSkill(t.id, s), `R of ${s}.\n`);
  await tick();
  // Two tenants object to every page now; the third completes one skill's objections before each round.
  const t0 = Date.now() + 1000;
  for (const t of fleet.slice(0, 2)) await writeBatch(blobs, t, skills.flatMap((s) => Array.from({ length: 10 }, (_, i) => plain(t, s, 0.3, `${s}-post-${i}`, t0 + i))));

  const start = (env: Record<string, string>) => spawnCli(args, { cwd: dir, env });
  const rnd = prng(seed);
  // A tick rolling a page back passes: the entry written, each file of the earlier page
  // restored, canonical restored, KV updated (or it dies after its scan, before judging). A
  // tick after one killed mid-rollback finishes it first, passing the same points again.
  const completion = (r: number) =>
    r < 0.6 ? { point: 'rollback:file-restored', n: 1 + Math.floor(rnd() * (FILES + 1)) } : r < 0.8 ? { point: 'rollback:canonical-restored', n: 1 } : { point: 'rollback:kv-updated', n: 1 };
  const any = (r: number) => (r < 0.15 ? { point: 'tick:scanned', n: 1 } : r < 0.35 ? { point: 'rollback:entry-written', n: 1 } : completion(rnd()));
  const bodies = new Map<string, string>();
  const landed: string[] = [];
  let planned = 0;
  const rollbackText = async (s: string) => (await entryTexts(blobs, s)).find((x) => JSON.parse(x).action === 'rollback') ?? null;
  for (const s of skills) {
    const t = fleet[2]!;
    await writeBatch(blobs, t, Array.from({ length: 10 }, (_, i) => plain(t, s, 0.3, `${s}-post-${i}`, t0 + i)));
    const r = rnd();
    const kills = r < 0.15 ? 0 : r < 0.6 ? 1 : 2;
    for (let k = 0; k < kills; k++) {
      const at = (await rollbackText(s)) ? completion(rnd()) : any(rnd());
      planned++;
      const o = await killAt(new CheckpointLog(), start, { ...at, hold: true });
      assert.ok(o.killed, `tick for ${s}: held at ${at.point} #${at.n} but it ended first (exit ${o.result.code}): ${o.result.stderr}`);
      const last = o.passes.at(-1)!;
      assert.equal([last.point, last.n], [at.point, at.n], `the tick for ${s} went past the point it was held at`);
      landed.push(`${at.point}#${at.n}`);
      for (const x of skills) {
        const body = await rollbackText(x);
        if (!body) continue;
        if (bodies.has(x)) assert.is(body, bodies.get(x), `${x}: the rollback entry is never rewritten (after a kill at ${landed.at(-1)})`);
        bodies.set(x, body);
      }
    }
    if (!kills) await tick();
  }
  assert.is(landed.length, planned, 'a planned kill did not land');
  await tick();
  const again = await tick();
  assert.equal([again.rolledBack, again.completed], [[], []], 'nothing left to roll back or finish');
  const kv = new BlobKV(blobs);
  for (const s of skills) {
    const log = await entries(blobs, s);
    assert.equal(log.map((e) => `${e.seq} ${e.action} ${e.rev_id}`), [`1 promote ${ps.get(s)}`, `2 promote ${rs.get(s)}`, `3 rollback ${rs.get(s)}`], `${s}: rolled back exactly once`);
    if (bodies.has(s)) assert.is(await text(blobs, Remote.changelogEntry(s, 3)), bodies.get(s), `${s}: entry unchanged by the reruns`);
    const canon: Record<string, string> = {};
    for (const k of await listKeys(blobs, Remote.canonicalDir(s))) canon[k.slice(Remote.canonicalDir(s).length)] = (await text(blobs, k))!;
    assert.equal(canon, earlier.get(s), `${s}: canonical is exactly the earlier page's files, R's own file gone`);
    assert.ok(await blobs.head(Remote.entryDone(s, 3, 'rollback', rs.get(s)!)), `${s}: rollback finished`);
    assert.ok(await blobs.head(Remote.watchClosed(s, 2)), `${s}: watch closed`);
  }
  const last = JSON.parse((await kv.get('last_quorum_rollback'))!);
  assert.ok(skills.includes(last.skill));
  const mid = landed.filter((l) => l.startsWith('rollback:')).length;
  console.log(`[faults/rollback-kill] ${landed.length} kills over ${SKILLS} rollbacks, ${mid} mid-rollback, ${landed.length - mid} after the scan: ${landed.join(' ')}`);
});

test.run();
