// Quarantine alerts on a real file remote: each record is read once, when its alert opens; later
// ticks carry the alert (open or acknowledged) from the alert state without reading it again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FileBlobStore } from '../../adapters/file-blob-store.ts';
import { ackAlert, DEFAULT_THRESHOLDS, updateAlerts } from '../../domain/alerts.ts';
import { Remote } from '../../domain/layout.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** The real store, with the keys read from it under the quarantine prefix counted. */
class CountingStore extends FileBlobStore {
  reads: string[] = [];
  override get(key: string): Promise<Uint8Array | null> {
    if (key.startsWith(Remote.quarantinePrefix)) this.reads.push(key);
    return super.get(key);
  }
}

const quarantine = (blobs: FileBlobStore, skill: string, rev: string) => blobs.put(Remote.quarantine(skill, rev), JSON.stringify({ ts: '2026-11-30T00:00:00.000Z', reason: `the bytes of ${rev} changed` }));

test('a quarantine record is read once: open, kept open, acknowledged, and a new one read alone', async () => {
  const blobs = new CountingStore(tmpDir('snappy-alerts-'));
  await quarantine(blobs, 'triage', 'aaaaaaaaaaaa');
  await quarantine(blobs, 'deploy', 'bbbbbbbbbbbb');
  const first = await updateAlerts(blobs, DEFAULT_THRESHOLDS);
  assert.equal(first.events.map((e) => [e.event, e.alert.id]).sort(), [['opened', 'quarantine:deploy:bbbbbbbbbbbb'], ['opened', 'quarantine:triage:aaaaaaaaaaaa']]);
  assert.match(first.state.open['quarantine:triage:aaaaaaaaaaaa']!.message, 'the bytes of aaaaaaaaaaaa changed');
  assert.is(blobs.reads.length, 2);

  blobs.reads = [];
  const second = await updateAlerts(blobs, DEFAULT_THRESHOLDS);
  assert.equal(second.events, [], 'nothing opens or resolves again');
  assert.equal(second.state.open, first.state.open, 'the alerts keep their words');
  assert.equal(blobs.reads, [], 'no record read again');

  assert.is(await ackAlert(blobs, 'quarantine:triage:aaaaaaaaaaaa', 'robert'), true);
  await quarantine(blobs, 'summarize', 'cccccccccccc');
  blobs.reads = [];
  const third = await updateAlerts(blobs, DEFAULT_THRESHOLDS);
  assert.equal(blobs.reads, [Remote.quarantine('summarize', 'cccccccccccc')], 'only the new record is read');
  assert.equal(third.events.map((e) => [e.event, e.alert.id]), [['opened', 'quarantine:summarize:cccccccccccc']]);
  assert.ok(third.state.acked['quarantine:triage:aaaaaaaaaaaa'], 'the acknowledgement holds while the quarantine does');
  assert.is(third.state.open['quarantine:triage:aaaaaaaaaaaa'], undefined);
  assert.ok(third.state.open['quarantine:deploy:bbbbbbbbbbbb']);
});

test.run();
