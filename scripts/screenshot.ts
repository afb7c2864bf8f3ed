// `npm run screenshot [-- --out docs/ops-page.png]`: the demo fleet's /snappy-ops page, as a PNG.
// Runs `npm run demo -- --keep`, loads the remote it leaves (file://) into a real Worker's R2
// bucket and KV (workerd, through miniflare), opens the page in Chromium (playwright-core,
// /usr/bin/chromium or SNAPPY_CHROMIUM), signs in with a throwaway ops token and saves the top of
// the page down to the end of the "Skills" section. The demo is deterministic up to the times
// of the runs logged after the promotion, so the picture's numbers are the same on every run.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { FileBlobStore } from '../adapters/file-blob-store.ts';
import { R2BlobStore } from '../adapters/r2-blob-store.ts';
import type { KVNamespace, R2Bucket } from '../adapters/workers-types.ts';
import { tenantSigner } from '../domain/auth.ts';
import { tenantIdOf } from '../domain/hash.ts';
import { Remote } from '../domain/layout.ts';
import { DEMO_KEYS } from './demo-keys.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const OUT = path.resolve(ROOT, outArg > 0 ? process.argv[outArg + 1]! : 'docs/ops-page.png');
const CHROMIUM = process.env.SNAPPY_CHROMIUM ?? '/usr/bin/chromium';
// The compatibility date the installed workerd accepts (test/worker/helpers.ts).
const COMPAT_DATE = '2026-04-26';

function demo(): Promise<string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'demo.ts'), '--keep'], { cwd: ROOT, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const kept = /\(kept (\S+): /.exec(stdout);
      if (err || !kept) reject(new Error(`npm run demo -- --keep failed${err ? ` (${err.code})` : ': it did not say where it kept its folder'}:\n${stdout}${stderr}`));
      else resolve(kept[1]!);
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install -y chromium, or set SNAPPY_CHROMIUM)`);
  process.stdout.write('running the demo (about a minute)...\n');
  const dir = await demo();
  const work = mkdtempSync(path.join(os.tmpdir(), 'snappy-screenshot-'));
  let mf: Miniflare | undefined;
  try {
    // The Worker with the demo's quorum settings (its JSON config names a regen agent the Worker has no use for).
    const config = path.join(work, 'snappy.config.mjs');
    writeFileSync(config, 'export default { quorum: { watch: { graceMs: 0 } } };\n');
    const { buildWorker } = (await import(path.join(ROOT, 'worker', 'build.mjs'))) as { buildWorker(o: Record<string, unknown>): Promise<unknown> };
    const script = path.join(work, 'worker.js');
    await buildWorker({ outfile: script, config, cwd: ROOT });
    const token = randomBytes(24).toString('hex');
    mf = new Miniflare({ modules: true, scriptPath: script, modulesRoot: work, compatibilityDate: COMPAT_DATE, kvNamespaces: ['SNAPPY_KV'], r2Buckets: ['SNAPPY_BUCKET'], bindings: { OPS_TOKEN: token }, host: '127.0.0.1' });
    const port = Number((await mf.ready).port);
    // The demo's remote, object by object; its KV stand-in (snappy-kv/) into the Worker's KV.
    const from = new FileBlobStore(path.join(dir, 'remote'));
    const to = new R2BlobStore((await mf.getR2Bucket('SNAPPY_BUCKET')) as unknown as R2Bucket);
    const kv = (await mf.getKVNamespace('SNAPPY_KV')) as unknown as KVNamespace;
    let objects = 0;
    for await (const o of from.list('')) {
      const bytes = await from.get(o.key);
      if (!bytes) continue;
      if (o.key.startsWith(Remote.kvPrefix)) await kv.put(decodeURIComponent(o.key.slice(Remote.kvPrefix.length)), new TextDecoder().decode(bytes));
      // A copy: the file store's bytes may be a view into a larger buffer, which the R2 proxy refuses.
      else await to.put(o.key, new Uint8Array(bytes));
      objects++;
    }
    process.stdout.write(`loaded ${objects} objects of the demo's remote into the Worker\n`);
    // The Worker counts admitted tenants only: the operator admits the demo's three, as on moving a fleet to a Worker.
    for (const [name, masterKey] of Object.entries(DEMO_KEYS)) {
      const tenant = await tenantIdOf(masterKey);
      const res = await mf.dispatchFetch(`http://127.0.0.1:${port}/snappy-ops/api/tenants`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant, key: (await tenantSigner(masterKey, tenant)).publicKey, by: 'operator' }) });
      if (res.status !== 200) throw new Error(`admitting ${name} (${tenant}): HTTP ${res.status} ${await res.text()}`);
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launchPersistentContext(path.join(work, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 900 },
      deviceScaleFactor: 1,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/snappy-ops`);
      await page.fill('#token', token);
      await page.fill('#me', 'operator');
      await page.click('#load');
      await page.waitForFunction(() => document.body.hasAttribute('data-loaded'), undefined, { timeout: 30_000 });
      await page.locator('article.skill').first().waitFor({ timeout: 30_000 });
      // The table of numbers is the chart's fallback; open, it would push the picture's other parts down.
      const box = await page.locator('#skillsec').boundingBox();
      mkdirSync(path.dirname(OUT), { recursive: true });
      await page.screenshot({ path: OUT, fullPage: true, clip: { x: 0, y: 0, width: 1100, height: Math.ceil(box!.y + box!.height + 8) } });
    } finally {
      await browser.close();
    }
    process.stdout.write(`saved ${path.relative(ROOT, OUT)} (${statSync(OUT).size} bytes)\n`);
  } finally {
    await mf?.dispose();
    rmSync(work, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`screenshot: ${(err as Error).stack}\n`);
  process.exit(1);
});
