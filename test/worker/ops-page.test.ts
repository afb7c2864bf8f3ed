import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { createHmac } from 'node:crypto';
import type { AggRow } from '../../domain/agg-row.ts';
import { entries, ndjson, promotionText, row, stageRev, tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, OPS_TOKEN, signed } from './client.ts';
import { buildTestWorker, portOf, startWorker, r2Of } from './helpers.ts';

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
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const port = await portOf(mf);
  const blobs = new R2BlobStore(await r2Of(mf));
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) await admit(mf, t);
  const rev = await stageRev(blobs, 'deploy', `---\nmanual_review: ${JSON.stringify(XSS)}\n---\nDeploy. ${XSS}\n`);
  const other = await stageRev(blobs, 'other', 'Other.\n');
  await blobs.put(Remote.rejection('other', other), JSON.stringify({ ts: new Date().toISOString(), by: 'x', reason: XSS }));
  for (const t of fleet) assert.is((await ingest(mf, t, ndjson([row(t, `deploy:${rev}`, 0.95, '1'), row(t, `deploy:${rev}`, 0.75, '2')]))).status, 201);
  // A rev the quorum first saw 15 days ago: the cron expires it, and the page offers to revive it.
  const stale = await stageRev(blobs, 'stale', 'Stale.\n');
  await blobs.put(Remote.since('stale', stale), JSON.stringify({ ts: new Date(Date.now() - 15 * 86_400_000).toISOString() }));
  assert.is((await (await mf.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  assert.equal((await entries(blobs, 'stale')).map((e) => e.action), ['expire']);

  const browser = await chromium.launchPersistentContext(tmpDir('snappy-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  let shownId = '';
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
    assert.is(await tr.locator('td').nth(3).textContent(), '3 of 3 tenants endorse (3 scored)', 'progress in words, never a fraction');
    assert.is(await tr.locator('td').nth(4).textContent(), '6 runs, 5 needed');
    assert.is(await tr.locator('svg rect').count(), 10, 'the score chart has one bar per decile');
    // The fleet: every admitted tenant with its last request, the Worker's versions.
    for (const t of fleet) {
      const seen = (await page.locator(`tr[data-fleet="${t.id}"]`).textContent())!;
      assert.match(seen, `${t.id}admitted`);
      assert.match(seen, / protocol \d+$/, 'its ingest was seen, with the protocol it spoke');
    }
    assert.match((await page.locator('#versions').textContent())!, /^Worker [0-9.]+, protocol \d+ .*layout \d+; last tick (?!never)[^;]+; in use: /, 'the cron ran once');
    assert.match((await page.locator('#alerts').textContent())!, 'no open alerts');
    assert.match((await page.locator('#hook').textContent())!, 'no webhook configured (SNAPPY_ALERT_WEBHOOK)');
    // The diff before approval: shown, and the approval records that it was.
    await tr.locator('button.diff').click();
    await page.waitForFunction(() => /, diff [0-9a-f]{16}$/.test(document.getElementById('diffhead')!.textContent || ''), undefined, { timeout: 15_000 });
    shownId = /diff ([0-9a-f]{16})$/.exec((await page.locator('#diffhead').textContent())!)![1]!;
    assert.match((await page.locator('#diffhead').textContent())!, 'against no canonical page (new skill)');
    assert.match((await page.locator('#diff').textContent())!, `+Deploy. ${XSS}`, 'the staged page as text');
    assert.match((await page.locator('#difffm').textContent())!, 'frontmatter manual_review: added');
    await tr.locator('button.approve').click();
    await page.waitForFunction(() => /promoted deploy:/.test(document.getElementById('msg')!.textContent || ''), undefined, { timeout: 15_000 });
    await page.waitForFunction((r) => /promoted/.test(document.querySelector(`tr[data-rev="deploy:${r}"] td:nth-child(3)`)?.textContent || ''), rev, { timeout: 15_000 });
    assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned ?? 0), 0, 'no injected handler ran');
    assert.is(await page.locator('img').count(), 0, 'no element was injected');
    assert.equal(dialogs, []);
    const st = page.locator(`tr[data-rev="stale:${stale}"]`);
    assert.match((await st.locator('td').nth(2).textContent())!, 'expired');
    assert.is(await page.locator('button.revive').count(), 1, 'only the expired rev offers a revive');
    await st.locator('button.revive').click();
    await page.waitForFunction((r) => document.getElementById('msg')!.textContent === `revive stale:${r} done`, stale, { timeout: 15_000 });
    await page.waitForFunction((r) => /^pending/.test(document.querySelector(`tr[data-rev="stale:${r}"] td:nth-child(3)`)?.textContent || ''), stale, { timeout: 15_000 });
    assert.equal(dialogs, [`Reason to revive stale:${stale}?`]);
  } finally {
    await browser.close();
  }
  assert.equal((await entries(blobs, 'stale')).map((e) => [e.action, e.by]), [['expire', 'quorum'], ['revive', 'manual:robert']], 'one audited revive, by the name the operator gave');
  const clog = JSON.parse((await promotionText(blobs, 'deploy', rev))!);
  assert.is(clog.by, 'manual:robert');
  assert.ok(await blobs.head(`${Remote.canonicalDir('deploy')}deploy.md`));
  const approval = JSON.parse((await text(blobs, Remote.approval('deploy', rev)))!);
  assert.equal([approval.by, approval.shown, approval.diff, approval.against], ['robert', true, shownId, null], 'approved with the diff shown, against no canonical');
});

/** A plain row of `skill` by `t` at `ts` (epoch ms): a run of whatever page the tenant has. */
function plain(t: Tenant, skill: string, score: number, run: string, ts: number): AggRow {
  return { _v: 1, ts: new Date(ts).toISOString(), skill, score, run_id: createHmac('sha256', t.masterKey).update(run).digest('hex').slice(0, 16), tenant: t.id, ok: score >= 0.5 };
}

run('the watch on /snappy-ops: objections per tenant, pin, roll back by hand, clear the mark, in a real browser', async () => {
  const { chromium } = await import('playwright-core');
  await mf?.dispose();
  mf = await startWorker(await buildTestWorker('test/worker/fixtures/watch.config.ts'), { OPS_TOKEN });
  const port = await portOf(mf);
  const worker = mf;
  const blobs = new R2BlobStore(await r2Of(worker));
  const fleet = await Promise.all(['a', 'b', 'c'].map(tenant));
  for (const t of fleet) await admit(worker, t);
  const tick = async () => assert.is((await (await worker.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const P = 'Triage by severity.\n';
  const R = 'Triage by mood.\n';
  const promote = async (page: string, tag: string) => {
    const rev = await stageRev(blobs, 'triage', page);
    for (const t of fleet) assert.is((await ingest(worker, t, ndjson([row(t, `triage:${rev}`, 0.9, `${tag}-1`), row(t, `triage:${rev}`, 0.92, `${tag}-2`)]))).status, 201);
    await tick();
    return rev;
  };
  const p = await promote(P, 'p');
  for (const t of fleet) assert.is((await ingest(worker, t, ndjson(Array.from({ length: 10 }, (_, i) => plain(t, 'triage', 0.9, `base-${i}`, Date.now() - 3 * 86_400_000 + i * 1000))))).status, 201);
  const r = await promote(R, 'r');
  assert.is((await entries(blobs, 'triage')).length, 2, 'setup: P, then R promoted');
  // Each tenant pushes R as its page (the push is its adoption); a and b then score it badly.
  for (const t of fleet) assert.is((await signed(worker, t, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(t.id, 'triage'))}`, R)).status, 200);
  const t0 = Date.now() + 1000;
  for (const [t, score] of [[fleet[0]!, 0.3], [fleet[1]!, 0.35]] as const) assert.is((await ingest(worker, t, ndjson(Array.from({ length: 10 }, (_, i) => plain(t, 'triage', score, `post-${i}`, t0 + i * 1000))))).status, 201);
  await tick();
  assert.is((await entries(blobs, 'triage')).length, 2, 'two objecting tenants of three: no rollback');

  const browser = await chromium.launchPersistentContext(tmpDir('snappy-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      await (d.type() === 'prompt' ? d.accept('reviewers disagree') : d.accept());
    });
    await page.goto(`http://127.0.0.1:${port}/snappy-ops`);
    await page.fill('#token', OPS_TOKEN);
    await page.fill('#me', 'robert');
    await page.click('#load');
    const tr = page.locator(`tr[data-watch="triage:${r}"]`);
    await tr.waitFor({ timeout: 15_000 });
    assert.match((await tr.locator('td').nth(3).textContent())!, '2 of 3', 'two tenants object of the three the quorum needs');
    assert.is(await tr.locator('td').nth(4).textContent(), '3', 'three tenants adopted the page');
    const states = await tr.locator('td').nth(6).locator('li').allTextContents();
    assert.equal(states.map((x) => x.split(' (')[0]).sort(), [`${fleet[0]!.id}: objects`, `${fleet[1]!.id}: objects`, `${fleet[2]!.id}: watching`].sort());
    await tr.locator('button.pin').click();
    await page.waitForFunction((x) => /pinned/.test(document.querySelector(`tr[data-watch="triage:${x}"] td:nth-child(2)`)?.textContent || ''), r, { timeout: 15_000 });
    await page.locator(`tr[data-watch="triage:${r}"] button.rollback`).click();
    await page.waitForFunction(() => /rolled back triage:/.test(document.getElementById('msg')!.textContent || ''), undefined, { timeout: 15_000 });
    const rb = page.locator(`tr[data-rollback^="triage:${r}:"]`);
    await rb.waitFor({ timeout: 15_000 });
    assert.match((await rb.locator('td').nth(1).textContent())!, 'marked');
    assert.is(await rb.locator('td').nth(4).textContent(), p, 'the page restored is P');
    assert.match((await page.locator('#lastrb').textContent())!, `triage:${r}`);
    await rb.locator('button.clear').click();
    await page.waitForFunction((x) => /cleared/.test(document.querySelector(`tr[data-rollback^="triage:${x}:"] td:nth-child(2)`)?.textContent || ''), r, { timeout: 15_000 });
    assert.equal(dialogs, [`prompt: Reason to pin triage:${r}?`, `confirm: Roll back triage:${r} now?`, `prompt: Reason to rollback triage:${r}?`, `prompt: Reason to clear triage:${r}?`]);
  } finally {
    await browser.close();
  }
  const log = await entries(blobs, 'triage');
  assert.equal(log.map((e) => [e.action, e.rev_id, e.by]), [
    ['promote', p, 'quorum'],
    ['promote', r, 'quorum'],
    ['pin', r, 'manual:robert'],
    ['rollback', r, 'manual:robert'],
    ['clear', r, 'manual:robert'],
  ]);
  assert.is(log[3]!.reason, 'reviewers disagree');
  assert.is(await text(blobs, `${Remote.canonicalDir('triage')}triage.md`), P, 'canonical is P again');
});

test.run();
