// A third-party plugin that declares its own hook (examples/promotion-events: `onPromotion`)
// and another that taps it (test/fixtures/promotion-listener.ts), both named by module path in
// a config, as README "Writing a plugin" shows: the hook fires in `snappy run tick` (a real
// CLI process on a file remote) and in the Worker (real workerd), and the runner instruments it
// like a built-in hook.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fileRemote, ndjson, row, stageRev, tenant, text, writeBatch, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, eventually, ingest, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, r2Of, startWorker } from '../worker/helpers.ts';

const PAGE = '---\nname: summarize\n---\nSummarize in three lines.\n';

test('in snappy run tick: the declared hook fires once per promotion, and is timed under its plugin', async () => {
  const dir = tmpDir('snappy-plugin-hooks-');
  const remote = path.join(dir, 'remote');
  const blobs = fileRemote(remote);
  const rev = await stageRev(blobs, 'summarize', PAGE);
  const fleet: Tenant[] = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) await writeBatch(blobs, t, [row(t, `summarize:${rev}`, 0.9, '1'), row(t, `summarize:${rev}`, 0.92, '2')]);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['quorum'], plugins: [path.join(ROOT, 'examples/promotion-events/index.ts'), path.join(ROOT, 'test/fixtures/promotion-listener.ts')] }));
  const r = await runCli(['run', 'tick', '--remote', `file://${remote}`, '--config', config, '--json'], { cwd: dir, env: { SNAPPY_MACHINE_ID: 'op' } });
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.reports.tick.quorum.promoted.length, 1, 'the quorum promoted the rev');
  assert.equal(JSON.parse((await text(blobs, `heard/summarize/${rev}.json`))!), { by: 'quorum', tenants: 3, runtime: 'node' });
  const timing = out.timings.find((t: { plugin: string; hook: string }) => t.plugin === 'promotion-listener' && t.hook === 'onPromotion');
  assert.is(timing?.calls, 1, 'the runner timed the tap on the declared hook under its plugin');

  const again = await runCli(['run', 'tick', '--remote', `file://${remote}`, '--config', config, '--json'], { cwd: dir, env: { SNAPPY_MACHINE_ID: 'op' } });
  assert.is(again.code, 0, again.stderr);
  assert.is(JSON.parse(again.stdout).timings.find((t: { hook: string }) => t.hook === 'onPromotion'), undefined, 'a tick that promotes nothing fires no onPromotion');
});

test('in the Worker (workerd): the push that completes the quorum fires the declared hook in the ingest tick', async () => {
  const mf: Miniflare = await startWorker(await buildTestWorker('test/worker/fixtures/promotion-events.config.ts'), { OPS_TOKEN });
  try {
    const blobs = new R2BlobStore(await r2Of(mf));
    const fleet: Tenant[] = await Promise.all(['a', 'b', 'c'].map(tenant));
    for (const t of fleet) await admit(mf, t);
    const rev = await stageRev(blobs, 'summarize', PAGE);
    for (const t of fleet) assert.is((await ingest(mf, t, ndjson([row(t, `summarize:${rev}`, 0.9, '1'), row(t, `summarize:${rev}`, 0.92, '2')]))).status, 201);
    const heard = await eventually(() => text(blobs, `heard/summarize/${rev}.json`), 'the listener to hear of the promotion');
    assert.equal(JSON.parse(heard), { by: 'quorum', tenants: 3, runtime: 'worker' });
  } finally {
    await mf.dispose();
  }
});

test.run();
