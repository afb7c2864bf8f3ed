// The fleet per skill on /snappy-ops, in a real browser against a real Worker (workerd): the
// canonical's history, the trend chart of daily means, quorum and watch bars, the tenants in
// counts; every number on the page is checked against the rows and actions this test seeded.
import { existsSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { entries, ndjson, stageRev, tenant, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ingest, ops, OPS_TOKEN, signed } from './client.ts';
import { buildTestWorker, portOf, r2Of, startWorker } from './helpers.ts';
import { OPS_SKILLS_JS } from '../../worker/ops-skills.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DAY = 86_400_000;
const SKILL = 'triage';

let mf: Miniflare | undefined;
test.after(async () => {
  await mf?.dispose();
});

const run = existsSync(CHROMIUM) ? test : test.skip;
if (!existsSync(CHROMIUM)) console.log(`SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium); the /snappy-ops fleet browser test did not run`);

/** A row of `skillRef` by `t` at `ts`, its run id hashed as the aggregate plugin does. */
function at(t: Tenant, skillRef: string, score: number, run: string, ts: number): AggRow {
  return { _v: 1, ts: new Date(ts).toISOString(), skill: skillRef, score, run_id: createHmac('sha256', t.masterKey).update(run).digest('hex').slice(0, 16), tenant: t.id, ok: score >= 0.5 };
}

/** Pooled daily means, as the page must show them: per series ('canonical' or a rev), per UTC day. */
function expectedSeries(rows: readonly AggRow[]): Map<string, Map<string, { mean: number; runs: number }>> {
  const acc = new Map<string, Map<string, { n: number; sum: number }>>();
  for (const r of rows) {
    const series = r.skill.includes(':') ? r.skill.split(':')[1]! : 'canonical';
    const days = acc.get(series) ?? new Map();
    const d = days.get(r.ts.slice(0, 10)) ?? { n: 0, sum: 0 };
    d.n++;
    d.sum += r.score;
    days.set(r.ts.slice(0, 10), d);
    acc.set(series, days);
  }
  return new Map([...acc].map(([s, days]) => [s, new Map([...days].map(([day, d]) => [day, { mean: Math.round((d.sum / d.n) * 1000) / 1000, runs: d.n }]))]));
}

run('the fleet per skill on /snappy-ops: history, daily means chart, quorum and watch bars, tenants in counts, all equal to what was seeded', async () => {
  const { chromium } = await import('playwright-core');
  mf = await startWorker(await buildTestWorker('test/worker/fixtures/watch.config.ts'), { OPS_TOKEN });
  const worker = mf;
  const port = await portOf(worker);
  const blobs = new R2BlobStore(await r2Of(worker));
  const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map(tenant)) as [Tenant, Tenant, Tenant, Tenant];
  for (const t of [a, b, c, d]) await admit(worker, t);
  const tick = async () => assert.is((await (await worker.getWorker()).scheduled({ cron: '* * * * *' })).outcome, 'ok');
  const sent: AggRow[] = [];
  const send = async (t: Tenant, rows: AggRow[]) => {
    assert.is((await ingest(worker, t, ndjson(rows))).status, 201);
    sent.push(...rows);
  };
  const today = Math.floor(Date.now() / DAY) * DAY;
  const dayAgo = (k: number, minute = 0) => today - k * DAY + 10 * 3_600_000 + minute * 60_000;

  // The canonical page's rows over three days, then P promoted by quorum.
  await send(a, [at(a, SKILL, 0.8, 'c5', dayAgo(5)), at(a, SKILL, 0.9, 'c4', dayAgo(4)), ...Array.from({ length: 10 }, (_, i) => at(a, SKILL, 0.9, `c3-${i}`, dayAgo(3, i)))]);
  await send(b, [at(b, SKILL, 0.7, 'c5', dayAgo(5)), at(b, SKILL, 0.8, 'c4', dayAgo(4)), ...Array.from({ length: 10 }, (_, i) => at(b, SKILL, 0.88, `c3-${i}`, dayAgo(3, i)))]);
  await send(c, [at(c, SKILL, 0.6, 'c4', dayAgo(4)), ...Array.from({ length: 10 }, (_, i) => at(c, SKILL, 0.92, `c3-${i}`, dayAgo(3, i)))]);
  const p = await stageRev(blobs, SKILL, 'Triage by severity.\n');
  await send(a, [at(a, `${SKILL}:${p}`, 0.9, 'p1', dayAgo(4)), at(a, `${SKILL}:${p}`, 0.95, 'p2', dayAgo(3))]);
  await send(b, [at(b, `${SKILL}:${p}`, 0.9, 'p1', dayAgo(3))]);
  await send(c, [at(c, `${SKILL}:${p}`, 0.92, 'p1', dayAgo(3)), at(c, `${SKILL}:${p}`, 0.86, 'p2', dayAgo(3, 5))]);
  await tick();
  // R: one poor run, approved by hand, rolled back by hand, its mark cleared.
  const r = await stageRev(blobs, SKILL, 'Triage by mood.\n');
  await send(b, [at(b, `${SKILL}:${r}`, 0.4, 'r1', dayAgo(2))]);
  await tick();
  assert.is((await ops(worker, 'POST', `/revs/${SKILL}/${r}/approve`, { by: 'robert' })).status, 200);
  assert.is((await ops(worker, 'POST', `/skills/${SKILL}/rollback`, { by: 'robert', rev: r, reason: 'worse on paper' })).status, 200);
  assert.is((await ops(worker, 'POST', `/revs/${SKILL}/${r}/clear`, { by: 'alice', reason: 'looked again' })).status, 200);
  // S promoted by quorum and pinned; Q pending with two tenants of three endorsing.
  const s = await stageRev(blobs, SKILL, 'Triage by severity, then age.\n');
  await send(a, [at(a, `${SKILL}:${s}`, 0.9, 's1', dayAgo(1)), at(a, `${SKILL}:${s}`, 0.9, 's2', dayAgo(1, 1))]);
  await send(b, [at(b, `${SKILL}:${s}`, 0.88, 's1', dayAgo(1))]);
  await send(c, [at(c, `${SKILL}:${s}`, 0.95, 's1', dayAgo(1)), at(c, `${SKILL}:${s}`, 0.95, 's2', dayAgo(1, 2))]);
  await tick();
  assert.is((await ops(worker, 'POST', `/revs/${SKILL}/${s}/pin`, { by: 'robert', reason: 'keep' })).status, 200);
  const q = await stageRev(blobs, SKILL, 'Triage by customer tier.\n');
  await send(a, [at(a, `${SKILL}:${q}`, 0.9, 'q1', dayAgo(1, 3))]);
  await send(b, [at(b, `${SKILL}:${q}`, 0.95, 'q1', dayAgo(0))]);
  await send(c, [at(c, `${SKILL}:${q}`, 0.6, 'q1', dayAgo(0, 1))]);
  // The fleet adopts S; a scores it badly: one objection of the three a rollback needs.
  for (const t of [a, b, c]) assert.is((await signed(worker, t, 'PUT', `/v1/object?key=${encodeURIComponent(Remote.tenantSkill(t.id, SKILL))}`, 'Triage by severity, then age.\n')).status, 200);
  const t0 = Date.now() + 1000;
  await send(a, Array.from({ length: 10 }, (_, i) => at(a, SKILL, 0.3, `post-${i}`, t0 + i * 1000)));
  await tick();

  const log = await entries(blobs, SKILL);
  assert.equal(log.map((e) => [e.action, e.rev_id, e.by]), [
    ['promote', p, 'quorum'],
    ['promote', r, 'manual:robert'],
    ['rollback', r, 'manual:robert'],
    ['clear', r, 'manual:alice'],
    ['promote', s, 'quorum'],
    ['pin', s, 'manual:robert'],
  ], 'setup: the history the page must list');
  const api = (await ops(worker, 'GET', '/skills')).body;
  const watch = (await ops(worker, 'GET', '/watch')).body;
  const w = watch.watches.find((x: { rev: string }) => x.rev === s);
  assert.equal([w.objecting, w.adopted, w.pinned], [1, 3, true], 'setup: one tenant objects, three adopted, pinned');
  const expected = expectedSeries(sent);

  // No tenant reaches the fleet view or the summaries it is drawn from, and a tenant's status names no other tenant.
  assert.is((await signed(worker, a, 'GET', '/snappy-ops/api/skills', undefined)).status, 401, 'a tenant signature is no ops token');
  assert.is((await signed(worker, a, 'GET', `/v1/object?key=${encodeURIComponent(Remote.revDaily(SKILL, q, b.id))}`, undefined)).status, 403, "another tenant's daily runs of a rev are the Worker's own");
  const st = await signed(worker, a, 'GET', '/v1/status', undefined);
  assert.is(st.status, 200);
  for (const other of [b, c, d]) assert.not.ok(st.text.includes(other.id), `a tenant's status does not name tenant ${other.id}`);

  const browser = await chromium.launchPersistentContext(tmpDir('snappy-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __csp: string[] }).__csp = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
    const res = await page.goto(`http://127.0.0.1:${port}/snappy-ops`);
    const csp = res!.headers()['content-security-policy']!;
    assert.is(csp, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", 'the CSP is unchanged: no inline script or style, nothing from elsewhere');
    await page.fill('#token', OPS_TOKEN);
    await page.click('#load');
    const card = page.locator(`article.skill[data-skill="${SKILL}"]`);
    await card.waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.body.hasAttribute('data-loaded'), undefined, { timeout: 15_000 });
    assert.is(await card.locator('h3').textContent(), `${SKILL}: canonical rev ${s}`);

    // The chart: one series per page, each point's numbers equal to the pooled daily mean seeded.
    const chart = card.locator('svg.trend');
    assert.is(await chart.getAttribute('role'), 'img');
    assert.match((await chart.getAttribute('aria-label'))!, 'The table below holds the same numbers.');
    const shown = await chart.locator('g[data-series]').evaluateAll((gs) => gs.map((g) => ({ series: g.getAttribute('data-series')!, points: Array.from(g.querySelectorAll('.pt')).map((m) => ({ day: m.getAttribute('data-day')!, mean: Number(m.getAttribute('data-mean')), runs: Number(m.getAttribute('data-runs')), title: m.querySelector('title')?.textContent ?? '' })), dash: g.querySelector('polyline')!.getAttribute('stroke-dasharray'), label: g.querySelector('text.end')?.textContent ?? '' })));
    assert.equal(shown.map((x) => x.series).sort(), ['canonical', q, r, s].sort(), 'the canonical, the canonical rev and the revs in play; P, promoted and replaced since, is left out (its later runs are the canonical\'s rows)');
    expected.delete(p);
    for (const x of shown) {
      const want = expected.get(x.series)!;
      assert.equal(x.points.map((pt) => [pt.day, pt.mean, pt.runs]), [...want].sort(([d1], [d2]) => (d1 < d2 ? -1 : 1)).map(([day, v]) => [day, v.mean, v.runs]), `series ${x.series}: the daily means seeded`);
      for (const pt of x.points) assert.match(pt.title, `${pt.day}: mean ${pt.mean} over ${pt.runs} run`, 'each point tells its numbers in words');
      const last = x.points[x.points.length - 1]!;
      assert.is(x.label, `${x.series === 'canonical' ? 'canonical' : `rev ${x.series}`} ${last.mean}`, 'each line is labelled at its end');
    }
    assert.is(new Set(shown.map((x) => x.dash)).size, shown.length, 'every series has its own dash pattern: told apart without colour');
    assert.is(await chart.locator('g.threshold').getAttribute('data-threshold'), '0.85');
    assert.match((await card.locator('figcaption').textContent())!, 'canonical (solid line, circles)', 'the caption tells which line is which in words');
    // The same numbers in the fallback table.
    const table = card.locator('table.means');
    for (const [series, days] of expected) {
      for (const [day, v] of days) {
        const cell = table.locator(`tr[data-day="${day}"] td[data-series="${series}"]`);
        assert.is(await cell.getAttribute('data-mean'), String(v.mean), `table: ${series} on ${day}`);
        assert.is(await cell.textContent(), `${v.mean} (${v.runs})`);
      }
    }
    assert.is(await table.locator('tbody tr').count(), new Set(sent.filter((x) => !x.skill.endsWith(p)).map((x) => x.ts.slice(0, 10))).size, 'one row per day with rows');

    // The history lists exactly the changelog, newest first, with who acted and who endorsed.
    const hist = await card.locator('table.history tbody tr').evaluateAll((trs) => trs.map((tr) => [Number(tr.getAttribute('data-seq')), tr.getAttribute('data-action'), tr.getAttribute('data-rev'), tr.children[4]!.textContent, tr.children[5]!.textContent, tr.children[6]!.textContent]));
    assert.equal(hist.map((h) => h.slice(0, 4)), log.map((e) => [e.seq, e.action, e.rev_id, e.by]).reverse());
    const promoS = hist.find((h) => h[0] === 5)!;
    assert.match(promoS[4] as string, '3 tenants, 5 runs');
    for (const t of [a, b, c]) assert.match(promoS[4] as string, t.id, 'the endorsing tenants are named (the page is the operator\'s)');
    assert.is(hist.find((h) => h[0] === 3)![5], `restored ${p}; worse on paper`);
    assert.is(hist.find((h) => h[0] === 2)![5], `replaced ${p}`);

    // Quorum bars: the tallies of each rev, as the revs API reports them.
    const revs = (await ops(worker, 'GET', '/revs')).body.revs as { rev: string; endorsing: number; endorsingRuns: number; thresholds: { minTenants: number; minRuns: number } }[];
    for (const rv of revs) {
      const tr = card.locator(`table.quorum tr[data-rev="${rv.rev}"]`);
      assert.equal([await tr.locator('[data-bar="tenants"]').getAttribute('data-value'), await tr.locator('[data-bar="tenants"]').getAttribute('data-need')], [String(rv.endorsing), String(rv.thresholds.minTenants)], `tenants bar of ${rv.rev}`);
      assert.equal([await tr.locator('[data-bar="runs"]').getAttribute('data-value'), await tr.locator('[data-bar="runs"]').getAttribute('data-need')], [String(rv.endorsingRuns), String(rv.thresholds.minRuns)], `runs bar of ${rv.rev}`);
    }
    const qRow = card.locator(`table.quorum tr[data-rev="${q}"]`);
    assert.is(await qRow.locator('[data-bar="tenants"]').getAttribute('data-value'), '2', 'Q: a and b endorse, c does not');
    assert.is(await qRow.locator('.bar .words').first().textContent(), '2 of 3 tenants endorse');
    assert.is(await qRow.locator('[data-bar="runs"]').getAttribute('data-value'), '2');
    assert.is(await qRow.locator('svg.short').count(), 2, 'Q meets neither threshold: both bars hatched');
    assert.is(await card.locator(`table.quorum tr[data-rev="${s}"] svg.met`).count(), 2, 'S met both');
    assert.is(await qRow.locator('td.gate').textContent(), '-', 'no gate comparison reported: the place is left empty');
    // Watch bars: as the watch report counts.
    const wb = card.locator(`.watchbox[data-watch="${s}"]`);
    assert.equal(await wb.locator('[data-bar]').evaluateAll((ss) => ss.map((x) => [x.getAttribute('data-bar'), Number(x.getAttribute('data-value')), Number(x.getAttribute('data-need'))])), [
      ['objecting', w.objecting, w.thresholds.minTenants],
      ['objecting-runs', w.objectingRuns, w.thresholds.minRuns],
      ['adopted', 3, 4],
    ]);
    assert.match((await wb.textContent())!, 'pinned');

    // Tenants: rows counted per tenant, never a score; the silent tenant has none.
    const parts = await card.locator('table.parts tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-part'), Number(tr.getAttribute('data-rows')), tr.children[2]!.textContent]));
    for (const t of [a, b, c, d]) {
      const row = parts.find((x) => x[0] === t.id)!;
      assert.is(row[1], sent.filter((x) => x.tenant === t.id).length, `rows of ${t.id}`);
      assert.is(row[2] === '-', t === d, `last batch of ${t.id}`);
    }
    assert.equal(api.skills.map((x: { skill: string }) => x.skill), [SKILL]);

    // Nothing on the page broke the CSP; something from elsewhere still cannot load.
    assert.equal(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), [], 'no CSP violation while loading and drawing');
    assert.is(await page.locator('script:not([src])').count(), 0, 'no inline script');
    assert.is(await page.locator('[style]').count(), 0, 'no inline style');
    await page.evaluate(() => {
      const sc = document.createElement('script');
      sc.src = 'https://cdn.example.com/x.js';
      document.body.appendChild(sc);
      const img = document.createElement('img');
      img.src = 'https://cdn.example.com/x.png';
      document.body.appendChild(img);
      const inline = document.createElement('script');
      inline.textContent = 'window.__ran = 1';
      document.body.appendChild(inline);
    });
    await page.waitForFunction(() => (window as unknown as { __csp: string[] }).__csp.length >= 3, undefined, { timeout: 15_000 });
    assert.equal((await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).sort(), ['img-src https://cdn.example.com/x.png', 'script-src-elem https://cdn.example.com/x.js', 'script-src-elem inline'].sort());
    assert.is(await page.evaluate(() => (window as unknown as { __ran?: number }).__ran ?? 0), 0, 'an inline script does not run');
  } finally {
    await browser.close();
  }
});

run("a rev's expiry, its comparison with the canonical and an expiry in the history are drawn when the data carries them; a skill without rows says so", async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launchPersistentContext(tmpDir('snappy-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><div id="skills"></div>');
    await page.addScriptTag({ content: OPS_SKILLS_JS });
    const th = { minTenants: 3, minRuns: 5, minScore: 0.85 };
    const rev = (id: string, extra: Record<string, unknown>) => ({ rev: id, state: 'pending', endorsing: 1, endorsingRuns: 2, totalRuns: 4, mean: 0.8, thresholds: th, ...extra });
    const skills = [
      {
        skill: 'deploy',
        canonical: null,
        thresholds: th,
        history: [{ seq: 1, ts: '2026-11-20T08:00:00.000Z', skill: 'deploy', rev_id: 'cccccccccccc', action: 'expire', by: 'quorum', tenants: 1, runs: 2, mean: 0.7 }],
        series: [{ rev: null, points: [] }],
        revs: [
          rev('aaaaaaaaaaaa', { expiresAt: '2026-12-14T09:30:00.000Z' }),
          rev('bbbbbbbbbbbb', { expired: true, expiresAt: '2026-11-20T07:59:00.000Z', expiredAt: '2026-11-20T08:00:00.000Z', gate: { revMean: 0.81, canonicalMean: 0.86, tenants: 3, runs: 12, canonicalRuns: 15, margin: 0.02, pass: false } }),
        ],
        watch: null,
        tenants: [],
      },
    ];
    await page.evaluate((list) => (window as unknown as { snappySkills(l: unknown, box: Element): void }).snappySkills(list, document.getElementById('skills')!), skills);
    const a = page.locator('tr[data-rev="aaaaaaaaaaaa"]');
    assert.is(await a.locator('.expiry').textContent(), ' expires 2026-12-14 09:30Z');
    assert.is(await a.locator('td.gate').textContent(), '-');
    const b = page.locator('tr[data-rev="bbbbbbbbbbbb"]');
    assert.is(await b.locator('.expiry').textContent(), ' expired at 2026-11-20 08:00Z');
    assert.is(await b.locator('td.gate').textContent(), 'rev 0.81 vs canonical 0.86 on 3 tenants, 12 runs vs 15 (margin 0.02): worse, held back');
    assert.equal([await b.locator('td.gate').getAttribute('data-rev-mean'), await b.locator('td.gate').getAttribute('data-canonical-mean')], ['0.81', '0.86']);
    const h = page.locator('table.history tr[data-seq="1"]');
    assert.is(await h.getAttribute('data-action'), 'expire');
    assert.is(await h.locator('td').nth(5).textContent(), '1 tenant, 2 runs, mean 0.7');
    assert.is(await page.locator('svg.trend').count(), 0, 'no chart without rows');
    assert.is(await page.locator('figure.trend p').textContent(), 'no scored rows yet');
    assert.is(await page.locator('.watchbox').textContent(), 'no promotion under watch');
    // The most lines a card draws (the canonical and eight revs): no two share a dash pattern.
    const many = [{ rev: null, points: [{ day: '2026-11-01', mean: 0.5, runs: 2, tenants: 1 }] }, ...Array.from({ length: 8 }, (_, i) => ({ rev: `${i}`.repeat(12), points: [{ day: '2026-11-01', mean: 0.1 * i, runs: 1, tenants: 1 }, { day: '2026-11-03', mean: 0.1 * i + 0.05, runs: 1, tenants: 1 }] }))];
    await page.evaluate((list) => (window as unknown as { snappySkills(l: unknown, box: Element): void }).snappySkills(list, document.getElementById('skills')!), [{ ...skills[0], series: many }]);
    const dashes = await page.locator('svg.trend g[data-series] polyline').evaluateAll((ls) => ls.map((l) => l.getAttribute('stroke-dasharray') ?? 'solid'));
    assert.is(dashes.length, 9);
    assert.is(new Set(dashes).size, 9, `nine lines, nine dash patterns: ${dashes.join(' | ')}`);
  } finally {
    await browser.close();
  }
});

test.run();
