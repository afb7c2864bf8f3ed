// Direct mode (no Worker, a file remote): the tick itself puts new batches in their tenants'
// monthly daily summaries, exactly once, also when it is kill -9ed after writing them and before
// recording the batches as read.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Remote } from '../../../domain/layout.ts';
import { CheckpointLog, killAt } from '../../helpers/checkpoints.ts';
import { runCli, spawnCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { fileRemote, row, stageRev, tenant, text, writeBatch, type Tenant } from './fleet.ts';

test('a tick kill -9ed between writing the summaries and recording its batches as read: the next tick reads them again and counts each once', async () => {
  const dir = tmpDir('snappy-daily-direct-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ builtins: ['quorum'] }));
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const args = ['run', 'tick', '--remote', `file://${remote}`, '--json'];
  const [a, b] = (await Promise.all(['a', 'b'].map(tenant))) as [Tenant, Tenant];
  const rev = await stageRev(blobs, 'review', 'Review.\n');
  for (let i = 0; i < 5; i++) {
    for (const t of [a, b]) {
      await writeBatch(blobs, t, [
        { ...row(t, 'review', 0.5 + i / 10, `p${i}`), ts: `2026-11-0${i + 1}T10:00:00.000Z` },
        { ...row(t, 'triage', 0.8, `q${i}`), ts: '2026-10-31T23:00:00.000Z' },
        { ...row(t, `review:${rev}`, 0.9, `r${i}`), ts: '2026-11-05T10:00:00.000Z' },
      ]);
    }
  }
  const o = await killAt(new CheckpointLog(), (env) => spawnCli(args, { cwd: dir, env }), { point: 'scan:group-applied', n: 1, hold: true });
  assert.ok(o.killed, `the tick was killed at scan:group-applied (${o.result.stderr})`);
  const nov = async (t: Tenant) => JSON.parse((await text(blobs, Remote.tenantDaily(t.id, '2026-11')))!);
  const before = await nov(a);
  assert.equal(before.series.review['2026-11-03'], [1, 0.7, 0.48999999999999994], 'the killed tick wrote the summaries');
  assert.equal(await text(blobs, Remote.quorumScan), null, 'and recorded nothing as read');

  const r = await runCli(args, { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).reports.tick.quorum.scan.batches, 10, 'the next tick read the 10 batches again');
  for (const t of [a, b]) {
    const m = await nov(t);
    assert.equal(Object.keys(m.series.review).sort(), ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']);
    for (const [day, [n]] of Object.entries(m.series.review as Record<string, number[]>)) assert.is(n, 1, `${day}: one run, not two`);
    assert.equal(m.series[`review:${rev}`]['2026-11-05'][0], 5, "the staged rev's five runs, once");
    assert.equal(m.batches.length, 5);
    const oct = JSON.parse((await text(blobs, Remote.tenantDaily(t.id, '2026-10')))!);
    assert.equal(oct.series.triage['2026-10-31'][0], 5, 'rows of another month go to that month, once');
  }
  assert.equal(await nov(a), { ...before, series: before.series }, "the killed tick's summaries are what the full run makes");
  const q = (await runCli(args, { cwd: dir })).stdout;
  assert.is(JSON.parse(q).reports.tick.quorum.scan.batches, 0);
});

test.run();
