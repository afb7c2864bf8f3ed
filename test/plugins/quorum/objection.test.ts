import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Standing } from '../../../domain/registry.ts';
import type { DailySummary } from '../../../plugins/quorum/daily.ts';
import { baselineOf, judge, type Baseline } from '../../../plugins/quorum/objection.ts';
import { WATCH_DEFAULTS } from '../../../plugins/quorum/options.ts';
import type { Watch, WatchTenant } from '../../../plugins/quorum/watch.ts';

const PROMOTED = Date.parse('2026-03-10T12:00:00.000Z');
const T = { minTenants: 3, minRuns: 5, minScore: 0.85 };
const wo = { ...WATCH_DEFAULTS };

function tenantOf(scores: number[], adopted = true): WatchTenant {
  return { ...(adopted ? { adopted: PROMOTED + 60_000, cutoff: PROMOTED + 60_000 } : {}), n: scores.length, sum: scores.reduce((a, b) => a + b, 0), sq: scores.reduce((a, b) => a + b * b, 0) };
}
function watchOf(tenants: Record<string, WatchTenant>): Watch {
  return { v: 1, skill: 's', seq: 2, rev: 'aaaaaaaaaaaa', promotedAt: PROMOTED, by: 'quorum', graceMs: 0, tenants, batches: [] };
}
const base = (mean: number, runs = 20): Baseline => ({ runs, mean, from: '2026-03-01', to: '2026-03-09' });
const tens = (x: number) => Array(10).fill(x) as number[];

test('three adopted tenants 0.4 below their 0.9 baselines object and the page is rolled back; two are not enough', () => {
  const w = watchOf({ a: tenantOf(tens(0.5)), b: tenantOf(tens(0.5)), c: tenantOf(tens(0.5)) });
  const b = new Map(['a', 'b', 'c'].map((t) => [t, base(0.9)]));
  const v = judge(w, b, new Map(), wo, T, false);
  assert.equal([v.objecting, v.objectingRuns, v.rollback, v.objectingMean], [3, 30, true, 0.5]);
  assert.match(v.tenants[0]!.reason, 'below its baseline 0.9');
  const two = judge(watchOf({ a: tenantOf(tens(0.5)), b: tenantOf(tens(0.5)), c: tenantOf(tens(0.9)) }), b, new Map(), wo, T, false);
  assert.equal([two.objecting, two.rollback], [2, false]);
  assert.is(two.reason, '2 of 3 tenants object (3 adopted the page)');
});

test('one bad run among ten never makes a tenant object: with the default 10 runs one run moves the mean by at most the margin', () => {
  const v = judge(watchOf({ a: tenantOf([...Array(9).fill(1), 0]) }), new Map([['a', base(1)]]), new Map(), wo, { ...T, minTenants: 1, minRuns: 1 }, false);
  assert.is(v.tenants[0]!.state, 'holds', v.tenants[0]!.reason);
  // A drop of exactly the margin does not object; just over it does.
  assert.is(judge(watchOf({ a: tenantOf(tens(0.8)) }), new Map([['a', base(0.9)]]), new Map(), wo, { ...T, minTenants: 1, minRuns: 1 }, false).tenants[0]!.state, 'holds');
  assert.is(judge(watchOf({ a: tenantOf(tens(0.79)) }), new Map([['a', base(0.9)]]), new Map(), wo, { ...T, minTenants: 1, minRuns: 1 }, false).tenants[0]!.state, 'objects');
});

test('below the floor a tenant objects whatever its baseline; without a baseline of minRuns runs only the floor applies', () => {
  const t1 = { ...T, minTenants: 1, minRuns: 1 };
  assert.is(judge(watchOf({ a: tenantOf(tens(0.45)) }), new Map([['a', null]]), new Map(), wo, t1, false).tenants[0]!.state, 'objects');
  assert.is(judge(watchOf({ a: tenantOf(tens(0.6)) }), new Map([['a', base(0.95, 9)]]), new Map(), wo, t1, false).tenants[0]!.state, 'holds', 'a 9-run baseline is not a baseline');
  assert.is(judge(watchOf({ a: tenantOf(tens(0.5)) }), new Map([['a', null]]), new Map(), wo, t1, false).tenants[0]!.state, 'holds', 'exactly the floor does not object');
});

test('fewer than minRuns runs since adoption: watching; a tenant that never adopted the page, a revoked tenant and (admitted only) an unadmitted one never count', () => {
  const w = watchOf({ a: tenantOf(Array(9).fill(0)), b: tenantOf(tens(0), false), c: tenantOf(tens(0)), d: tenantOf(tens(0)) });
  const standing = new Map<string, Standing>([['c', 'revoked'], ['d', 'not admitted']]);
  const v = judge(w, new Map(), standing, wo, { ...T, minTenants: 1, minRuns: 1 }, true);
  assert.equal(v.tenants.map((t) => [t.tenant, t.state]), [['a', 'watching'], ['b', 'not adopted'], ['c', 'revoked'], ['d', 'not admitted']]);
  assert.equal([v.objecting, v.adopted, v.rollback], [0, 1, false]);
  assert.is(judge(w, new Map(), standing, wo, { ...T, minTenants: 1, minRuns: 1 }, false).tenants[3]!.state, 'objects', 'without admittedOnly an unadmitted tenant counts');
});

test('objecting tenants need the quorum\'s runs among them too', () => {
  const w = watchOf({ a: tenantOf(tens(0.1)), b: tenantOf(tens(0.1)), c: tenantOf(tens(0.1)) });
  const v = judge(w, new Map(), new Map(), wo, { ...T, minRuns: 31 }, false);
  assert.equal([v.objecting, v.rollback, v.reason], [3, false, 'objecting tenants have 30 runs, 31 needed']);
});

test('the baseline is the tenant\'s days before the promotion\'s day, within baselineDays; the promotion\'s own day is left out', () => {
  const daily: DailySummary = { v: 1, skill: 's', tenant: 'a', batches: [], days: { '2026-02-01': [100, 10, 1], '2026-03-01': [10, 9, 8.1], '2026-03-09': [10, 8, 6.4], '2026-03-10': [50, 5, 0.5], '2026-03-11': [5, 0, 0] } };
  assert.equal(baselineOf(daily, PROMOTED, 28), { runs: 20, mean: 0.85, from: '2026-03-01', to: '2026-03-09' });
  assert.equal(baselineOf(daily, PROMOTED, 1), { runs: 10, mean: 0.8, from: '2026-03-09', to: '2026-03-09' });
  assert.is(baselineOf(null, PROMOTED, 28), null);
});

test.run();
