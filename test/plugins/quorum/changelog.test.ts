import path from 'node:path';
import { Miniflare } from 'miniflare';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { R2BlobStore } from '../../../adapters/r2-blob-store.ts';
import type { BlobStore } from '../../../core/ports.ts';
import { readLog, type ChangelogEntry } from '../../../domain/changelog.ts';
import { Remote } from '../../../domain/layout.ts';
import { appendEntry, changelogIndex } from '../../../plugins/quorum/changelog.ts';
import { barrier, gatedWrites } from '../../helpers/barrier.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { COMPAT_DATE, r2Of } from '../../worker/helpers.ts';
import { entries, fileRemote, listKeys, text } from './fleet.ts';

// The changelog is a per-skill sequence: entry N is written create-only, so of callers racing
// for the same place one wins and the others read it and decide again; the head (a fold of the
// entries) follows by compare-and-swap. Every race here is held at the entry write until all
// callers reach it, on the R2 binding in workerd and on the file remote.

let mf: Miniflare | undefined;
let n = 0;
test.after(async () => {
  await mf?.dispose();
});

async function r2(): Promise<BlobStore> {
  mf ??= new Miniflare({ modules: true, script: 'export default { async fetch() { return new Response("") } }', compatibilityDate: COMPAT_DATE, r2Buckets: ['BUCKET'] });
  return new R2BlobStore(await r2Of(mf, 'BUCKET'), { prefix: `log-${++n}` });
}
const file = async (): Promise<BlobStore> => fileRemote(path.join(tmpDir('snappy-changelog-'), 'remote'));

const rev = (i: number) => i.toString(16).padStart(12, '0');
const draft = (skill: string, r: string, action: ChangelogEntry['action']) => ({ ts: '2026-01-01T00:00:00.000Z', skill, rev_id: r, action, by: 'manual:test', tenants: 0, runs: 0, mean: null });

for (const [where, open] of [['R2 binding in workerd', r2], ['file remote', file]] as const) {
  test(`${where}: 6 callers racing for the same place each append once, in one gapless sequence; every caller decided on the log as it stood before its entry`, async () => {
    const blobs = await open();
    const callers = 6;
    const seen: number[][] = Array.from({ length: callers }, () => []);
    const at = barrier(callers);
    const outs = await Promise.all(
      Array.from({ length: callers }, (_, i) =>
        appendEntry(gatedWrites(blobs, Remote.changelogPrefix, at), 'race', (log) => {
          seen[i]!.push(log.seq);
          // Each caller pins its own rev once; a pin already there is nothing to do.
          return log.pins.includes(rev(i)) ? null : draft('race', rev(i), 'pin');
        }),
      ),
    );
    assert.ok(outs.every((o) => o.appended), 'every caller appended its own entry in the end');
    const stored = await entries(blobs, 'race');
    assert.equal(stored.map((e) => e.seq), [1, 2, 3, 4, 5, 6], 'one entry per place, no gap, none twice');
    assert.equal(new Set(stored.map((e) => e.rev_id)).size, callers, 'each caller\'s entry once');
    for (const o of outs) assert.is(stored[o.entry!.seq - 1]!.rev_id, o.entry!.rev_id, 'the entry a caller was told it wrote is the one stored there');
    // A caller that lost a race read the log again: its last decision saw exactly the entries before its own.
    for (const o of outs) assert.is(seen[Number.parseInt(o.entry!.rev_id, 16)]!.at(-1), o.entry!.seq - 1);
    assert.ok(seen.some((s) => s.length > 1), 'the race was real: some caller had to decide again');
    const head = JSON.parse((await text(blobs, Remote.changelogHead('race')))!);
    assert.is(head.seq, 6, 'the head caught up with the sequence');
    assert.equal([...head.pins].sort(), Array.from({ length: callers }, (_, i) => rev(i)).sort());
  });
}

test('a writer killed between its entry and the head leaves the head one behind: readers fold the entry in, the next append goes after it', async () => {
  const blobs = await file();
  await appendEntry(blobs, 'lag', () => draft('lag', rev(1), 'pin'));
  // As a killed writer leaves it: entry 2 stored, the head still at 1.
  await blobs.put(Remote.changelogEntry('lag', 2), `${JSON.stringify({ seq: 2, ...draft('lag', rev(2), 'pin') })}\n`, { ifAbsent: true });
  assert.is(JSON.parse((await text(blobs, Remote.changelogHead('lag')))!).seq, 1);
  const log = await readLog(blobs, 'lag');
  assert.is(log.seq, 2);
  assert.equal(log.pins, [rev(1), rev(2)]);
  const out = await appendEntry(blobs, 'lag', () => draft('lag', rev(1), 'unpin'));
  assert.is(out.entry!.seq, 3);
  assert.equal((await entries(blobs, 'lag')).map((e) => [e.seq, e.action]), [[1, 'pin'], [2, 'pin'], [3, 'unpin']]);
  assert.equal(JSON.parse((await text(blobs, Remote.changelogHead('lag')))!).pins, [rev(2)]);
});

test('rows of the release before the sequence count as the first promotions, in time order: the next entry follows them and names the newest as the canonical it replaces', async () => {
  const blobs = await file();
  const older = { ts: '2026-01-01T00:00:00.000Z', skill: 'old', rev_id: rev(0xa), by: 'quorum', tenants: 3, runs: 6, mean: 0.9 };
  const newer = { ...older, ts: '2026-01-02T00:00:00.000Z', rev_id: rev(0xb), by: 'manual:robert' };
  await blobs.put(Remote.legacyChangelog('old', rev(0xb)), `${JSON.stringify(newer)}\n`);
  await blobs.put(Remote.legacyChangelog('old', rev(0xa)), `${JSON.stringify(older)}\n`);
  const log = await readLog(blobs, 'old');
  assert.equal([log.seq, log.legacy, log.canonical], [2, 2, { rev_id: rev(0xb), seq: 2 }]);
  assert.equal(log.promotions['2'], { rev_id: rev(0xb), previous: { rev_id: rev(0xa), seq: 1 } });
  const idx = await changelogIndex(blobs);
  assert.ok(idx.closed.has(`old:${rev(0xa)}`) && idx.closed.has(`old:${rev(0xb)}`), 'a rev promoted by the older release is never promoted again');
  assert.equal(idx.skills.get('old')!.unfinishedLegacy.sort(), [rev(0xa), rev(0xb)], 'their done markers are missing: the tick finishes them');
  const out = await appendEntry(blobs, 'old', (l) => ({ ...draft('old', rev(0xc), 'promote'), previous: l.canonical }));
  assert.is(out.entry!.seq, 3);
  assert.equal(out.entry!.previous, { rev_id: rev(0xb), seq: 2 });
  assert.equal((await listKeys(blobs, `${Remote.changelogPrefix}old/`)).sort(), [Remote.changelogEntry('old', 3), Remote.legacyChangelog('old', rev(0xa)), Remote.legacyChangelog('old', rev(0xb))].sort(), 'the older rows stay where they are, never rewritten');
});

test('an entry that is there but unreadable stops its skill\'s history (E_MALFORMED names it); the index reports it and goes on with the other skills', async () => {
  const blobs = await file();
  await appendEntry(blobs, 'good', () => draft('good', rev(1), 'pin'));
  await appendEntry(blobs, 'bad', () => draft('bad', rev(1), 'pin'));
  await blobs.put(Remote.changelogEntry('bad', 2), '{"seq": 2, "ts"');
  await blobs.delete(Remote.changelogHead('bad'));
  const err = await appendEntry(blobs, 'bad', () => draft('bad', rev(3), 'pin')).catch((e) => e);
  assert.is(err.code, 'E_MALFORMED');
  assert.match(err.message, Remote.changelogEntry('bad', 2));
  const problems: { key: string }[] = [];
  const idx = await changelogIndex(blobs, (p) => problems.push(p));
  assert.equal(problems.map((p) => p.key), [Remote.changelogEntry('bad', 2)]);
  assert.ok(idx.skills.get('good')!.pins.has(rev(1)));
  assert.is((await appendEntry(blobs, 'good', () => draft('good', rev(2), 'pin'))).entry!.seq, 2);
});

test.run();
