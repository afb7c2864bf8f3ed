// The watch after a key rotation (docs/operate.md "Rotate a key"): on a real file remote with the
// real registry, a tenant's old and new ids object as one tenant, with their runs summed and the
// old id's baseline, so a rotation never turns one objection into two.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tenantSigner } from '../../../domain/auth.ts';
import { Remote } from '../../../domain/layout.ts';
import { admitTenant } from '../../../domain/registry.ts';
import { rotateTenant } from '../../../domain/rotation.ts';
import { recordCache } from '../../../plugins/quorum/identity.ts';
import { quorumOptions } from '../../../plugins/quorum/options.ts';
import type { Watch, WatchTenant } from '../../../plugins/quorum/watch.ts';
import { judgeWatch } from '../../../plugins/quorum/watch-tick.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { fileRemote, tenant, type Tenant } from './fleet.ts';

const PROMOTED = Date.parse('2026-03-10T12:00:00.000Z');
const opts = quorumOptions.parse({ minTenants: 2, minRuns: 10 });
const publicKey = async (t: Tenant) => (await tenantSigner(t.masterKey, t.id)).publicKey;

function runs(scores: number[], adoptedAfterMs: number | null, pending: [number, number][] = []): WatchTenant {
  return {
    ...(adoptedAfterMs === null ? {} : { adopted: PROMOTED + adoptedAfterMs, cutoff: PROMOTED + adoptedAfterMs, via: 'push' as const }),
    n: scores.length,
    sum: scores.reduce((a, b) => a + b, 0),
    sq: scores.reduce((a, b) => a + b * b, 0),
    ...(pending.length ? { pending } : {}),
  };
}

test('a rotated tenant\'s two ids are one objecting tenant: runs summed, pending rows counted from the earlier adoption, the old id\'s baseline', async () => {
  const blobs = fileRemote(tmpDir('snappy-watch-rot-'));
  const [old, neu, other] = await Promise.all(['wr-old', 'wr-new', 'wr-other'].map(tenant));
  await admitTenant(blobs, old!.id, await publicKey(old!), 'robert');
  await admitTenant(blobs, other!.id, await publicKey(other!), 'robert');
  // The old id's baseline: 20 runs at 0.9 in the days before the promotion; the new id has none.
  await blobs.put(Remote.daily('triage', old!.id), JSON.stringify({ v: 1, skill: 'triage', tenant: old!.id, days: { '2026-03-05': [20, 18, 16.2] }, batches: [] }));
  const w: Watch = {
    v: 1, skill: 'triage', seq: 2, rev: 'aaaaaaaaaaaa', promotedAt: PROMOTED, by: 'quorum', graceMs: 0, batches: [],
    tenants: {
      // Before the rotation the old id adopted the page and ran it 6 times at 0.7 ...
      [old!.id]: runs(Array(6).fill(0.7), 60_000),
      // ... after it the new id ran it 4 times more, before its own push was seen.
      [neu!.id]: runs([], null, [[3_600_000, 0.7], [3_700_000, 0.7], [3_800_000, 0.7], [3_900_000, 0.7]]),
      [other!.id]: runs(Array(10).fill(0.3), 60_000),
    },
  };
  const apart = await judgeWatch({ blobs }, opts, w, recordCache());
  assert.equal(apart.tenants.map((t) => [t.tenant, t.state]).sort(), [[neu!.id, 'not adopted'], [old!.id, 'watching'], [other!.id, 'objects']].sort(), 'before the rotation: two ids, neither with 10 runs');
  assert.is(apart.objecting, 1);

  await rotateTenant(blobs, old!.id, neu!.id, await publicKey(neu!), 'robert');
  const linked = await judgeWatch({ blobs }, opts, w, recordCache());
  assert.equal(linked.tenants.map((t) => t.tenant).sort(), [neu!.id, other!.id].sort(), 'one entry for the rotated tenant, under its current id');
  const t = linked.tenants.find((x) => x.tenant === neu!.id)!;
  assert.equal([t.state, t.runs, t.mean, t.baseline?.mean, t.baseline?.runs], ['objects', 10, 0.7, 0.9, 20], 'ten runs at 0.7 against the old id\'s 0.9 baseline');
  assert.equal([linked.objecting, linked.adopted, linked.rollback], [2, 2, true]);
});

test.run();
