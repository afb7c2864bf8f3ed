import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quorumOptions, thresholdsFor } from '../../../plugins/quorum/options.ts';
import { decide, defaultRule, progressOf } from '../../../plugins/quorum/rule.ts';
import { applyToTally, emptyTally, readTally, type Tally } from '../../../plugins/quorum/tally.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { fileRemote, row, tenant } from './fleet.ts';

// The default rule at its edges (docs/contract.md §11): a tenant endorses at a mean >= 0.85; a rev is
// promoted when >= 3 tenants endorse with >= 5 runs among them. Defaults as the config gives them.
const t = thresholdsFor(quorumOptions.parse({}), 'summarize');

/** A tally from tenant -> scores (one run each). */
function tally(scores: Record<string, number[]>): Tally {
  const out = emptyTally('summarize', '0123456789ab');
  for (const [tenantId, list] of Object.entries(scores)) out.tenants[tenantId] = Object.fromEntries(list.map((s, i) => [`run${i}`, s]));
  return out;
}
const verdict = (scores: Record<string, number[]>) => decide(defaultRule, progressOf(tally(scores), t), t);

test('the defaults are 3 tenants, 5 runs, 0.85', () => {
  assert.equal(t, { minTenants: 3, minRuns: 5, minScore: 0.85 });
});

test('a tenant endorses at a mean of exactly 0.85, however the sum rounds in binary, and not just below', () => {
  const endorses = (scores: number[]) => progressOf(tally({ x: scores }), t).tenants[0]!.endorses;
  assert.ok(endorses([0.85]));
  assert.ok(endorses([0.85, 0.85, 0.85]), '3 x 0.85 sums to 2.5500000000000003 / 3');
  assert.ok(endorses([0.8, 0.9]));
  assert.ok(endorses([0.7, 1, 0.85]));
  assert.not.ok(endorses([0.84, 0.84]));
  assert.not.ok(endorses([0.849]));
  assert.not.ok(endorses([0.8499999]));
  assert.not.ok(endorses([0.85, 0.84]), 'a mean of 0.845');
});

test('three endorsing tenants with five runs promote; two tenants or four runs do not', () => {
  assert.ok(verdict({ a: [0.9, 0.9], b: [0.9, 0.9], c: [0.9] }).promote);
  assert.not.ok(verdict({ a: [0.9, 0.9, 0.9], b: [0.9, 0.9, 0.9] }).promote, 'two tenants, six runs');
  assert.not.ok(verdict({ a: [0.9, 0.9], b: [0.9], c: [0.9] }).promote, 'three tenants, four runs');
  const d = verdict({ a: [0.9, 0.9], b: [0.9, 0.9], c: [0.9], low: [0.84, 0.84, 0.84] });
  assert.equal({ promote: d.promote, tenants: d.tenants, runs: d.runs }, { promote: true, tenants: 3, runs: 5 }, 'a tenant below 0.85 neither counts nor blocks');
});

test('runs of a tenant that does not endorse do not count toward the five', () => {
  assert.not.ok(verdict({ a: [0.9, 0.9], b: [0.9], c: [0.9], low: [0.5, 0.5, 0.5, 0.5] }).promote);
});

test('a tally counts each (tenant, run_id) once, whatever batches repeat it; the first score stands', async () => {
  const blobs = fileRemote(tmpDir('snappy-tally-'));
  const a = await tenant('a');
  const b = await tenant('b');
  const ref = 'summarize:0123456789ab';
  assert.is(await applyToTally(blobs, 'summarize', '0123456789ab', [row(a, ref, 0.9, 'r1'), row(a, ref, 0.9, 'r2')]), 2);
  assert.is(await applyToTally(blobs, 'summarize', '0123456789ab', [row(a, ref, 0.1, 'r1'), row(a, ref, 0.9, 'r2'), row(a, ref, 0.9, 'r3'), row(b, ref, 0.9, 'r1')]), 2);
  const got = await readTally(blobs, 'summarize', '0123456789ab');
  assert.equal(Object.fromEntries(Object.entries(got.tenants).map(([k, v]) => [k, Object.values(v)])), { [a.id]: [0.9, 0.9, 0.9], [b.id]: [0.9] });
  assert.is(progressOf(got, t).totalRuns, 4);
});

test.run();
