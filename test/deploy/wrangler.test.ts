// docs/deploy.md, every step that runs without a Cloudflare account, with the wrangler the
// project pins: `npx wrangler deploy --dry-run` from the repository root (and a subfolder),
// then a fresh checkout's `cp .dev.vars.example .dev.vars` and `wrangler dev --local`, with
// the real CLI against it: admit a tenant, a tenant's push, a tick through the scheduled route,
// and a rotated ops token. wrangler dev runs in its own process group, stopped after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/s3rver.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { makeMachine, rows, writeFleetConfig, type Machine } from '../e2e/fleet.ts';
import { buildsIn, checkoutCopy, npxWrangler, startWranglerDev, type WranglerDev } from './wrangler.ts';

const MiB = 1024 * 1024;
const MASTER_KEY = 'deploy-test-K7m2Qx9vR4tW1yB8nE5cJ0pL3sH6gD-fA';
let dev: WranglerDev | undefined;

test.after(async () => {
  await dev?.stop();
});

/** The OPS_TOKEN line of a dotenv file. */
const tokenIn = (file: string) => /^OPS_TOKEN=(.+)$/m.exec(readFileSync(file, 'utf8'))?.[1]?.trim() ?? '';

test('`npx wrangler deploy --dry-run` builds and packs the Worker from the repository root and from a subfolder, well under the size limits', async () => {
  for (const cwd of [ROOT, path.join(ROOT, 'worker')]) {
    const out = tmpDir('snappy-dry-run-');
    const r = await npxWrangler(['deploy', '--dry-run', '--outdir', out], cwd);
    assert.is(r.code, 0, `from ${cwd}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, '--dry-run: exiting now.');
    const sizes = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(r.stdout);
    assert.ok(sizes, r.stdout);
    const bundle = readFileSync(path.join(out, 'worker.js'));
    const gzip = gzipSync(bundle).length;
    // Cloudflare limits the compressed Worker: 3 MiB on the free plan, 10 MiB on paid.
    assert.ok(gzip < 1.5 * MiB, `gzip ${gzip} bytes is more than half the free plan's 3 MiB`);
    assert.ok(Math.abs(Number(sizes![2]) * 1024 - gzip) < 0.05 * gzip, `wrangler's gzip figure (${sizes![2]} KiB) and ours (${(gzip / 1024).toFixed(1)} KiB) agree`);
    if (cwd === ROOT) process.stdout.write(`    Worker bundle: ${(bundle.length / 1024).toFixed(0)} KiB, gzip ${(gzip / 1024).toFixed(0)} KiB (limits 3 MiB free, 10 MiB paid)\n`);
  }
});

test('a fresh checkout, `cp .dev.vars.example .dev.vars`, `wrangler dev --local`: the CLI admits a tenant, the tenant pushes, the scheduled route ticks, with no rebuild loop', async () => {
  const checkout = checkoutCopy();
  copyFileSync(path.join(checkout, '.dev.vars.example'), path.join(checkout, '.dev.vars'));
  const token = tokenIn(path.join(checkout, '.dev.vars'));
  assert.ok(token.length >= 32, `the example ops token is ${token.length} characters, fewer than 32`);
  const port = await freePort();
  dev = await startWranglerDev(checkout, port);
  const url = dev.url;
  const afterStart = buildsIn(dev.output());

  const status = await fetch(`${url}/v1/status`);
  assert.is(status.status, 200);
  assert.equal((await status.json()).last_quorum_promotion, null);
  const bare = await fetch(`${url}/snappy-ops/api/revs`);
  await bare.text();
  assert.is(bare.status, 401, 'the ops API wants the token: OPS_TOKEN came from .dev.vars (without it: 503)');

  // An operator (config: the Worker's URL; env: the ops token) and one tenant machine.
  const root = tmpDir('snappy-deploy-fleet-');
  const operator = path.join(root, 'operator.config.json');
  writeFileSync(operator, JSON.stringify({ worker: { url } }));
  const config = writeFleetConfig(root, { worker: { url } });
  const tenant: Machine = makeMachine({ root, name: 'tenant-a', key: MASTER_KEY, machine: 'a-box', config, env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined } as unknown as Record<string, string> });

  const key = await tenant.json(['ops', 'key']);
  assert.match(key.tenant, /^[0-9a-f]{12}$/);
  const admitted = await runOps(['tenants', 'admit', key.tenant, key.publicKey, '--by', 'deploy-doc'], token);
  assert.is(admitted.where, url, 'ops acted through the Worker');
  assert.is(admitted.tenant.tenant, key.tenant);

  tenant.log(rows('summarize', [0.95, 0.92, 0.97], 'dep-sum'));
  const push = await tenant.json(['run', 'push', '--auto']);
  assert.ok(push.ok, JSON.stringify(push));
  assert.is(push.reports.push.aggregate.via, 'worker', 'the aggregate batch went through the Worker');
  const agg = await fetch(`${url}/v1/aggregate`, { headers: { authorization: `Bearer ${token}` } });
  assert.is(agg.status, 200);
  const lines = (await agg.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.is(lines.filter((r) => r.tenant === key.tenant && r.skill === 'summarize').length, 3, 'the three rows are in the local bucket, under the tenant');

  // One tick, as the cron would fire it (wrangler dev fires no crons by itself).
  const tick = await fetch(`${url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
  const tickBody = await tick.text();
  assert.is(tick.status, 200, tickBody);
  assert.is(tickBody.trim(), 'ok', 'the scheduled handler ran to its end');

  const revs = await runOps(['revs'], token);
  assert.ok(Array.isArray(revs.revs), JSON.stringify(revs));
  // Every change above was a request, none a file write under the watched folders.
  assert.is(buildsIn(dev.output()), afterStart, `wrangler dev rebuilt while serving:\n${dev.output()}`);
  assert.ok(afterStart <= 2, `wrangler dev built ${afterStart} times while starting:\n${dev.output()}`);
  await dev.stop();
  dev = undefined;

  // Rotating the ops token: a new value in .dev.vars (in production: `wrangler secret put OPS_TOKEN`), then a restart.
  const rotated = `${token}-rotated-${Date.now().toString(36)}`;
  writeFileSync(path.join(checkout, '.dev.vars'), readFileSync(path.join(checkout, '.dev.vars'), 'utf8').replace(/^OPS_TOKEN=.*$/m, `OPS_TOKEN=${rotated}`));
  dev = await startWranglerDev(checkout, port);
  const old = await fetch(`${url}/snappy-ops/api/tenants`, { headers: { authorization: `Bearer ${token}` } });
  await old.text();
  assert.is(old.status, 403, 'the old token is refused');
  const list = await runOps(['tenants', 'list'], rotated);
  assert.ok(list.tenants.some((t: { tenant: string }) => t.tenant === key.tenant), 'the admission outlived the restart (local state in .wrangler/state)');
  assert.ok(existsSync(path.join(checkout, '.wrangler', 'state')), 'wrangler keeps its local state in the checkout\'s .wrangler/');
  const pid = dev.child.pid!;
  await dev.stop();
  dev = undefined;
  assert.throws(() => process.kill(-pid, 0), 'the process group of wrangler dev (workerd included) is gone');

  /** `snappy ops ...` as the operator: the Worker's URL in the config, the ops token in the environment. */
  async function runOps(args: string[], opsToken: string): Promise<any> {
    const r = await runCli(['ops', ...args, '--json'], { cwd: root, env: { SNAPPY_CONFIG: operator, SNAPPY_OPS_TOKEN: opsToken } });
    assert.is(r.code, 0, `snappy ops ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout);
  }
});

test.run();
