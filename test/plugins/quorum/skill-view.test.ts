import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DailySummary } from '../../../plugins/quorum/daily.ts';
import type { RevStatus } from '../../../plugins/quorum/revs.ts';
import { revProgress, seriesOf } from '../../../plugins/quorum/skill-view.ts';

const daily = (tenant: string, days: DailySummary['days']): DailySummary => ({ v: 1, skill: 's', tenant, days, batches: [] });

test('a day of the trend pools every run of the fleet: a tenant with many runs weighs more than one with few (never a mean of means)', () => {
  const s = seriesOf('aaaaaaaaaaaa', [daily('t1', { '2026-11-02': [9, 8.1, 7.29], '2026-11-01': [1, 0.5, 0.25] }), daily('t2', { '2026-11-02': [1, 0.1, 0.01] })]);
  assert.equal(s, {
    rev: 'aaaaaaaaaaaa',
    points: [
      { day: '2026-11-01', mean: 0.5, runs: 1, tenants: 1 },
      { day: '2026-11-02', mean: 0.82, runs: 10, tenants: 2 },
    ],
  }, '(8.1 + 0.1) / 10 = 0.82, where the mean of the two means would be 0.5; days in order');
  assert.equal(seriesOf(null, []), { rev: null, points: [] });
});

const status = (extra: Record<string, unknown>): RevStatus => ({ skill: 's', rev: 'aaaaaaaaaaaa', tenants: [], endorsing: 2, endorsingRuns: 4, endorsingMean: 0.9, totalRuns: 6, mean: 0.83333333, state: 'pending', manualReview: null, quarantine: null, thresholds: { minTenants: 3, minRuns: 5, minScore: 0.85 }, decision: { promote: false, reason: '' }, promotion: null, rollback: null, history: null, pinned: false, canonical: false, rejection: null, histogram: [], ...extra }) as unknown as RevStatus;

test("a rev's progress carries its expiry and the gate's comparison when the quorum reports them, and nothing of them when it does not", () => {
  assert.equal(revProgress(status({})), { rev: 'aaaaaaaaaaaa', state: 'pending', endorsing: 2, endorsingRuns: 4, totalRuns: 6, mean: 0.833, thresholds: { minTenants: 3, minRuns: 5, minScore: 0.85 } });
  const p = revProgress(status({
    expiry: { expiresAt: '2026-12-14T00:00:00.000Z', expired: { seq: 4, ts: '2026-12-14T00:01:00.000Z', by: 'quorum', reason: '' } },
    regression: { margin: 0.05, minTenants: 2, canonicalRev: 'bbbbbbbbbbbb', from: '2026-12-01', tenants: 3, revRuns: 9, canonicalRuns: 12, revMean: 0.8712345, canonicalMean: 0.95, delta: -0.08, passes: false, words: '' },
  }));
  assert.equal([p.expiresAt, p.expired, p.expiredAt], ['2026-12-14T00:00:00.000Z', true, '2026-12-14T00:01:00.000Z']);
  assert.equal(p.gate, { revMean: 0.871, canonicalMean: 0.95, tenants: 3, runs: 9, canonicalRuns: 12, margin: 0.05, pass: false });
  const open = revProgress(status({ expiry: { expiresAt: '2026-12-14T00:00:00.000Z', expired: null }, regression: null }));
  assert.equal([open.expiresAt, open.expired, open.gate], ['2026-12-14T00:00:00.000Z', undefined, undefined]);
});

test.run();
