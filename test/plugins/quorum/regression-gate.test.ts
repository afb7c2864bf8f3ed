import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AggRow } from '../../../domain/agg-row.ts';
import { runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { Remote } from '../../../domain/layout.ts';
import { fileRemote, row, stageRev, tenant, text, writeBatch, type Tenant } from './fleet.ts';

/** A row logged now: the gate compares runs by the day they were made. */
const today = (t: Tenant, ref: string, score: number, run: string): AggRow => ({ ...row(t, ref, score, run), ts: new Date().toISOString() });
const runs = (t: Tenant, ref: string, score: number, n: number, tag: string): AggRow[] => Array.from({ length: n }, (_, i) => today(t, ref, score, `${tag}-${i}`));

async function setup(quorum: Record<string, unknown>) {
  const dir = tmpDir('snappy-gate-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'], quorum }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const cli = (args: string[]) => runCli([...args, '--remote', `file://${remote}`], { cwd: dir });
  const tick = async () => {
    const r = await cli(['run', 'tick', '--json']);
    assert.is(r.code, 0, `tick failed: ${r.stderr}`);
    return JSON.parse(r.stdout).reports.tick.quorum as { promoted: { skill: string; rev_id: string }[]; revs: { rev: string; outcome: string; reason: string; regression?: Record<string, unknown> }[] };
  };
  return { dir, blobs, cli, tick };
}

/**
 * Each skill: a first rev promoted by quorum (no canonical yet: nothing to regress from), then a
 * second rev that three tenants endorse (mean 0.88, above the 0.85 quorum), scored against the
 * canonical's plain runs by the same tenants since the second rev was staged.
 */
test('a rev above the quorum but worse than the canonical by more than the margin waits; within the margin, or without opt-in, it is promoted; one-sided tenants do not count', async () => {
  const { blobs, cli, tick } = await setup({ regressionGate: { margin: 0.05 }, skills: { free: { regressionGate: false } } });
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  const [d, e] = await Promise.all([tenant('d'), tenant('e')]);
  const skills = ['strict', 'close', 'free', 'oneside'];
  const first: Record<string, string> = {};
  for (const s of skills) first[s] = await stageRev(blobs, s, `First page of ${s}.\n`);
  for (const t of fleet) await writeBatch(blobs, t, skills.flatMap((s) => runs(t, `${s}:${first[s]}`, 0.9, 2, `first-${s}`)));
  let q = await tick();
  assert.equal(q.promoted.map((p) => p.skill).sort(), [...skills].sort(), 'with no canonical yet, the gate lets every first rev through');
  assert.match(q.revs.find((r) => r.rev === `strict:${first.strict}`)!.reason, 'regression gate: no canonical page to compare with');

  const second: Record<string, string> = {};
  for (const s of skills) second[s] = await stageRev(blobs, s, `Second page of ${s}.\n`);
  await tick(); // the quorum first sees the second revs: the period compared starts now
  const canonicalScore: Record<string, number> = { strict: 0.97, close: 0.9, free: 0.97, oneside: 0.97 };
  for (const t of fleet) {
    await writeBatch(blobs, t, skills.flatMap((s) => [...runs(t, s, canonicalScore[s]!, 4, `canon-${s}`), ...runs(t, `${s}:${second[s]}`, 0.88, 3, `second-${s}`)]));
  }
  // d scored only the rev (perfectly), e only the canonical (badly): counted, either would let the rev through.
  await writeBatch(blobs, d, runs(d, `oneside:${second.oneside}`, 1, 20, 'd'));
  await writeBatch(blobs, e, runs(e, 'oneside', 0.2, 20, 'e'));
  q = await tick();
  assert.equal(q.promoted.map((p) => p.skill).sort(), ['close', 'free'], 'only the rev within the margin and the one without opt-in are promoted');
  const strict = q.revs.find((r) => r.rev === `strict:${second.strict}`)!;
  assert.is(strict.outcome, 'pending');
  assert.match(strict.reason, '3 tenants endorse with 9 runs (mean 0.88); regression gate: rev 0.880 vs canonical 0.970 on 3 tenants (9 vs 12 runs); 0.090 worse, more than the margin of 0.05: waits');
  const oneside = q.revs.find((r) => r.rev === `oneside:${second.oneside}`)!;
  assert.is(oneside.outcome, 'pending');
  assert.equal([oneside.regression!.tenants, oneside.regression!.revRuns, oneside.regression!.canonicalRuns, oneside.regression!.revMean, oneside.regression!.canonicalMean], [3, 9, 12, 0.88, 0.97], 'd and e scored one side each: not compared');
  assert.match(q.revs.find((r) => r.rev === `close:${second.close}`)!.reason, 'regression gate: rev 0.880 vs canonical 0.900 on 3 tenants (9 vs 12 runs): within the margin of 0.05');
  assert.is(q.revs.find((r) => r.rev === `free:${second.free}`)!.regression, undefined, 'no comparison without opt-in');

  // The comparison is in ops revs and status, in words and numbers.
  const ops = await cli(['ops', 'revs', '--json']);
  const r = (JSON.parse(ops.stdout).revs as Record<string, any>[]).find((x) => x.rev === second.strict)!;
  assert.equal({ ...r.regression, words: undefined, from: undefined }, { margin: 0.05, minTenants: 1, canonicalRev: first.strict, from: undefined, tenants: 3, revRuns: 9, canonicalRuns: 12, revMean: 0.88, canonicalMean: 0.97, delta: -0.09, passes: false, words: undefined });
  const since = JSON.parse((await text(blobs, Remote.since('strict', second.strict!)))!).ts as string;
  assert.is(r.regression.from, since.slice(0, 10), 'the period compared starts the day the quorum first saw the rev');
  const human = (await cli(['ops', 'revs'])).stdout;
  assert.match(human, `strict:${second.strict}  pending`);
  assert.match(human, '    regression gate: rev 0.880 vs canonical 0.970 on 3 tenants (9 vs 12 runs); 0.090 worse, more than the margin of 0.05: waits');
  const st = await cli(['status']);
  assert.match(st.stdout, `  strict:${second.strict} pending: 3 of 3 tenants endorse; 9 runs, 5 needed; mean 0.880; expires in 13 days`);
  assert.match(st.stdout, '    regression gate: rev 0.880 vs canonical 0.970');
  const sj = JSON.parse((await cli(['status', '--json'])).stdout);
  assert.is(sj.quorum.revs.find((x: { rev: string }) => x.rev === second.strict).regression.delta, -0.09);

  // Waiting, not rejected: more runs that close the gap let it through.
  for (const t of fleet) await writeBatch(blobs, t, runs(t, `strict:${second.strict}`, 0.97, 9, 'more'));
  q = await tick();
  assert.equal(q.promoted.map((p) => p.skill), ['strict']);
});

test('the regression gate needs a tenant that scored both sides; its options are checked', async () => {
  const { blobs, tick, cli } = await setup({ regressionGate: { margin: 0.1, minTenants: 2 } });
  const words = async (rev: string) => (JSON.parse((await cli(['ops', 'revs', '--json'])).stdout).revs as Record<string, any>[]).find((x) => x.rev === rev)!.regression.words as string;
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  const first = await stageRev(blobs, 'solo', 'First.\n');
  for (const t of fleet) await writeBatch(blobs, t, runs(t, `solo:${first}`, 0.9, 2, 'f'));
  await tick();
  const second = await stageRev(blobs, 'solo', 'Second.\n');
  await tick();
  for (const t of fleet) await writeBatch(blobs, t, runs(t, `solo:${second}`, 0.95, 2, 's'));
  let q = await tick();
  assert.equal(q.promoted, [], 'nobody scored the canonical since: no comparison, the rev waits');
  assert.match(q.revs.find((r) => r.rev === `solo:${second}`)!.reason, `no tenant has scored both it and canonical ${first} since`);
  await writeBatch(blobs, fleet[0]!, runs(fleet[0]!, 'solo', 0.9, 3, 'c'));
  q = await tick();
  assert.equal(q.promoted, [], 'one tenant compared, two needed');
  assert.match(await words(second), 'rev 0.950 vs canonical 0.900 on 1 tenant (2 vs 3 runs); 2 tenants needed for a comparison: waits');
  await writeBatch(blobs, fleet[1]!, runs(fleet[1]!, 'solo', 0.9, 3, 'c'));
  q = await tick();
  assert.equal(q.promoted.map((p) => p.rev_id), [second]);

  const bad = await setup({ regressionGate: { margin: 2 } });
  const r = await bad.cli(['run', 'tick']);
  assert.is(r.code, 2);
  assert.match(r.stdout + r.stderr, 'quorum.regressionGate');
});

test.run();
