import path from 'node:path';
import { Miniflare } from 'miniflare';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BlobKV } from '../../../adapters/blob-kv.ts';
import { KVBinding } from '../../../adapters/kv-binding.ts';
import { R2BlobStore } from '../../../adapters/r2-blob-store.ts';
import type { BlobStore, KV } from '../../../core/ports.ts';
import { Remote } from '../../../domain/layout.ts';
import { KvKeys, promote, type PromotionRequest } from '../../../plugins/quorum/promote.ts';
import { barrier, gatedWrites } from '../../helpers/barrier.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { COMPAT_DATE, kvOf, r2Of } from '../../worker/helpers.ts';
import { fileRemote, listKeys, promotionDone, promotionText, stageRev } from './fleet.ts';

// Promotion's exactly-once point is its create-only changelog write. Here every caller is
// held at that write until all of them have reached it, then all are let go at once, so
// the race is real on every run: without create-only (or with a check-then-write) more
// than one caller would store a row and report `promoted: true`.

let mf: Miniflare | undefined;
let races = 0;
test.after(async () => {
  await mf?.dispose();
});

const KV_NAMES = ['KV1', 'KV2', 'KV3', 'KV4'];

async function r2(): Promise<{ blobs: BlobStore; kv: KV }> {
  mf ??= new Miniflare({
    modules: true,
    script: 'export default { async fetch() { return new Response("") } }',
    compatibilityDate: COMPAT_DATE,
    r2Buckets: ['BUCKET'],
    kvNamespaces: KV_NAMES,
  });
  const bucket = await r2Of(mf, 'BUCKET');
  // Each race gets its own prefix in the one bucket and its own KV namespace, so the cases stay
  // apart: in one namespace, the last-promotion record of an earlier race with a later row
  // time would stand (it is only ever replaced by a newer one).
  const n = ++races;
  assert.ok(n <= KV_NAMES.length, `race ${n}: declare more KV namespaces`);
  const blobs = new R2BlobStore(bucket, { prefix: `race-${n}` });
  return { blobs, kv: new KVBinding(await kvOf(mf, KV_NAMES[n - 1]!)) };
}

function file(): { blobs: BlobStore; kv: KV } {
  const blobs = fileRemote(path.join(tmpDir('snappy-race-'), 'remote'));
  return { blobs, kv: new BlobKV(blobs) };
}

const rowOf = (skill: string, rev: string, i: number): PromotionRequest => ({ ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), skill, rev_id: rev, by: `quorum`, tenants: 3 + i, runs: 5 + i, mean: 0.9 });

async function race(where: () => Promise<{ blobs: BlobStore; kv: KV }> | { blobs: BlobStore; kv: KV }, callers: number) {
  const { blobs, kv } = await where();
  const skill = `race-${callers}`;
  await blobs.put(`${Remote.canonicalDir(skill)}stale.md`, 'stale');
  const rev = await stageRev(blobs, skill, `Page of ${skill}.\n`, { 'extra.md': 'extra\n' });
  const atChangelog = barrier(callers);
  const results = await Promise.all(
    Array.from({ length: callers }, (_, i) => promote(gatedWrites(blobs, Remote.changelogPrefix, atChangelog), kv, rowOf(skill, rev, i))),
  );
  const winners = results.filter((r) => r.promoted);
  assert.is(winners.length, 1, `${winners.length} of ${callers} callers reported promoted: true`);
  const stored = winners[0]!.row;
  for (const r of results) assert.equal(r.row, stored, 'every caller reports the one stored row');
  assert.equal(await listKeys(blobs, `${Remote.changelogPrefix}${skill}/`), [Remote.changelogEntry(skill, 1)]);
  assert.equal(JSON.parse((await promotionText(blobs, skill, rev))!), stored, 'the changelog row is the winner\'s');
  const canon = (await listKeys(blobs, Remote.canonicalDir(skill))).map((k) => k.slice(Remote.canonicalDir(skill).length)).sort();
  assert.equal(canon, [`${skill}.md`, 'extra.md'].sort(), 'canonical is exactly the rev\'s folder');
  assert.ok(await promotionDone(blobs, skill, rev), 'promotion finished');
  const last = JSON.parse((await kv.get(KvKeys.lastPromotion))!);
  assert.equal([last.rev_id, last.ts], [rev, stored.ts]);
}

for (const callers of [2, 8]) {
  test(`R2 binding in workerd: ${callers} callers of promote() released together at the changelog write: exactly one promoted, one changelog row`, () => race(r2, callers));
  test(`file remote: ${callers} callers of promote() released together at the changelog write: exactly one promoted, one changelog row`, () => race(file, callers));
}

test.run();
