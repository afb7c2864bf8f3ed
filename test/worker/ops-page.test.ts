import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { ndjson, promotionText, row, stageRev, tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, OPS_TOKEN } from './client.ts';
import { buildTestWorker, startWorker, r2Of } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// The page content an attacker controls: a rev's frontmatter and a rejection reason.
const XSS = '<img src=x onerror="window.__pwned=1">';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

const run = existsSync(CHROMIUM) ? test : test.skip;
if (!existsSync(CHROMIUM)) console.log(`SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium); the /snappy-ops browser test did not run`);

run('an operator approves a gated rev on /snappy-ops in a real browser; hostile page content stays text', async () => {
  const { chromium } = await import('playwright-core');
  const port = await freePort();
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN }, { port });
  const blobs = new R2BlobStore(await r2Of(mf));
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) await admit(mf, t);
  const rev = await stageRev(blobs, 'deploy', `---\nmanual_review: ${JSON.stringify(XSS)}\n---\nDeploy. ${XSS}\n`);
  const other = await stageRev(blobs, 'other', 'Other.\n');
  await blobs.put(Remote.rejection('other', other), JSON.stringify({ ts: new Date().toISOString(), by: 'x', reason: XSS }));
  for (const t of fleet) assert.is((await ingest(mf, t, ndjson([row(t, `deploy:${rev}`, 0.95, '1'), row(t, `deploy:${rev}`, 0.75, '2')]))).status, 201);

  const browser = await chromium.launchPersistentContext(tmpDir('snappy-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const res = await page.goto(`http://127.0.0.1:${port}/snappy-ops`);
    assert.is(res!.status(), 401, 'without the token the page carries no data');
    await page.fill('#token', OPS_TOKEN);
    await page.fill('#me', 'robert');
    await page.click('#load');
    const tr = page.locator(`tr[data-rev="deploy:${rev}"]`);
    await tr.waitFor({ timeout: 15_000 });
    const state = await tr.locator('td').nth(2).textContent();
    assert.match(state!, 'gated');
    assert.match(state!, XSS, 'the manual_review value is shown as text');
    assert.is(await tr.locator('svg rect').count(), 10, 'the score chart has one bar per decile');
    await tr.locator('button.approve').click();
    await page.waitForFunction(() => /promoted deploy:/.test(document.getElementById('msg')!.textContent || ''), undefined, { timeout: 15_000 });
    await page.waitForFunction((r) => /promoted/.test(document.querySelector(`tr[data-rev="deploy:${r}"] td:nth-child(3)`)?.textContent || ''), rev, { timeout: 15_000 });
    assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned ?? 0), 0, 'no injected handler ran');
    assert.is(await page.locator('img').count(), 0, 'no element was injected');
    assert.equal(dialogs, []);
  } finally {
    await browser.close();
  }
  const clog = JSON.parse((await promotionText(blobs, 'deploy', rev))!);
  assert.is(clog.by, 'manual:robert');
  assert.ok(await blobs.head(`${Remote.canonicalDir('deploy')}deploy.md`));
});

test.run();
