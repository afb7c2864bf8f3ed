// Alerts in real workerd, delivered to a real HTTP server on loopback: failing ticks (here a
// bucket laid out by a newer release), a quarantined rev and a quiet tenant open alerts, the
// webhook hears each opening and resolution once, signed; a receiver that fails gets the event
// again on the next tick; an acknowledged alert stays closed; a tenant sees the fleet's alerts
// and its own, never another tenant's.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { Remote } from '../../domain/layout.ts';
import { LAYOUT } from '../../domain/versions.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { tenant, text, type Tenant } from '../plugins/quorum/fleet.ts';
import { admit, ops, OPS_TOKEN } from './client.ts';
import { buildTestWorker, portOf, r2Of, startWorker } from './helpers.ts';

const SECRET = 'webhook-secret-0123456789';

interface Call {
  at: number;
  body: { event: string; delivery: string; alert: { id: string; kind: string; tenant?: string; message: string }; text: string };
  raw: string;
  headers: http.IncomingHttpHeaders;
}

/** A webhook receiver: records every call; answers 500 while `failing` is above 0 (counting down). */
async function receiver() {
  const calls: Call[] = [];
  const state = { failing: 0 };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      if (state.failing > 0) {
        state.failing--;
        res.writeHead(500).end('down');
        return;
      }
      calls.push({ at: Date.now(), body: JSON.parse(raw), raw, headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hook`, calls, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let mf: Miniflare | undefined;
let hook: Awaited<ReturnType<typeof receiver>> | undefined;
test.after(async () => {
  await mf?.dispose();
  await hook?.close();
});

test('failing ticks, a quarantine and a quiet tenant open alerts; the webhook gets each opening and resolution, signed, again after a failure; ack closes; tenants see only theirs', async () => {
  hook = await receiver();
  mf = await startWorker(await buildTestWorker(), { OPS_TOKEN, SNAPPY_ALERT_WEBHOOK: hook.url, SNAPPY_ALERT_WEBHOOK_SECRET: SECRET, SNAPPY_ALERT_TICK_FAILURES: '2', SNAPPY_ALERT_QUIET_HOURS: '48' });
  const port = await portOf(mf);
  const blobs = new R2BlobStore(await r2Of(mf));
  const [p, q] = (await Promise.all(['al-p', 'al-q'].map(tenant))) as [Tenant, Tenant];
  await admit(mf, p);
  await admit(mf, q);
  const worker = await mf.getWorker();
  const tick = async () => {
    const t0 = Date.now();
    await worker.scheduled({ cron: '* * * * *' }).catch(() => {});
    return t0;
  };
  const events = () => hook!.calls.map((c) => `${c.body.event} ${c.body.alert.id}`);

  // A bucket laid out by a newer release: every tick refuses it, and two in a row open an alert.
  await blobs.put(Remote.layoutMarker, JSON.stringify({ layout: 99, release: '9.0.0', since: new Date().toISOString() }));
  await tick();
  assert.equal(events(), [], 'one failed tick is not an alert yet');
  const record = JSON.parse((await text(blobs, Remote.lastTick))!);
  assert.equal([record.ok, record.failures], [false, 1]);
  assert.match(record.error, 'layout 99');
  const t0 = await tick();
  assert.equal(events(), ['opened tick-failing']);
  const call = hook.calls[0]!;
  console.log(`[alerts] webhook: scheduled() start to receipt ${call.at - t0} ms`);
  assert.is(call.headers['x-snappy-signature'], `sha256=${createHmac('sha256', SECRET).update(call.raw).digest('hex')}`, 'signed over the exact body');
  assert.is(call.headers['x-snappy-delivery'], call.body.delivery);
  assert.match(call.body.text, '[snappy] ALERT: the last 2 ticks failed');

  // Fixed: the next tick goes well and the alert resolves.
  await blobs.delete(Remote.layoutMarker);
  await tick();
  assert.equal(events(), ['opened tick-failing', 'resolved tick-failing']);
  assert.is(JSON.parse((await text(blobs, Remote.layoutMarker))!).layout, LAYOUT, 'the tick marked the layout');

  // A staged rev whose page does not hash to its rev id is quarantined; the receiver is down once.
  await blobs.put(Remote.staged('bad', 'aaaaaaaaaaaa'), 'not the page that hashes to it\n');
  hook.state.failing = 1;
  await tick();
  assert.equal(events().length, 2, 'the receiver failed: nothing recorded yet');
  const pending = (await ops(mf, 'GET', '/alerts')).body;
  assert.equal([pending.pending, pending.webhook.last.error], [1, 'HTTP 500']);
  await tick();
  assert.equal(events().slice(2), ['opened quarantine:bad:aaaaaaaaaaaa'], 'delivered on the next tick, once');
  await tick();
  assert.is(events().length, 3, 'an open alert is not sent again');

  // A tenant quiet for longer than SNAPPY_ALERT_QUIET_HOURS.
  const quietSince = new Date(Date.now() - 60 * 3_600_000).toISOString();
  await blobs.put(Remote.seen(q.id), JSON.stringify({ tenant: q.id, lastSeen: quietSince, client: 'snappy/0.1.0', protocol: 2 }));
  const state = JSON.parse((await text(blobs, Remote.alerts))!);
  state.quietCheckedAt = new Date(0).toISOString();
  await blobs.put(Remote.alerts, JSON.stringify(state));
  await tick();
  assert.equal(events().slice(3), [`opened tenant-quiet:${q.id}`], 'Q is quiet; P was admitted just now');

  // The operator's view and acknowledgement, through the CLI.
  const dir = tmpDir('snappy-alerts-');
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({ worker: { url: `http://127.0.0.1:${port}` } }));
  const list = await runCli(['ops', 'alerts', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(list.code, 0, list.stderr);
  const open = JSON.parse(list.stdout);
  assert.equal(open.open.map((a: { id: string }) => a.id).sort(), [`quarantine:bad:aaaaaaaaaaaa`, `tenant-quiet:${q.id}`].sort());
  assert.equal([open.webhook.configured, open.webhook.last.status], [true, 204]);

  // P's status shows the fleet's alert, never Q's own.
  const state2 = path.join(dir, 'state');
  mkdirSync(state2);
  const status = await runCli(['status', '--json', '--state', state2], { cwd: dir, env: { SNAPPY_MASTER_KEY: p.masterKey } });
  assert.is(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).alerts.map((a: { id: string }) => a.id), ['quarantine:bad:aaaaaaaaaaaa']);
  const human = await runCli(['status', '--state', state2], { cwd: dir, env: { SNAPPY_MASTER_KEY: p.masterKey } });
  assert.match(human.stdout, 'ERROR quarantine:bad:aaaaaaaaaaaa');
  assert.not.match(human.stdout, q.id);

  const ack = await runCli(['ops', 'alerts', 'ack', 'quarantine:bad:aaaaaaaaaaaa', '--by', 'robert', '--json'], { cwd: dir, env: { SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  assert.is(ack.code, 0, ack.stderr);
  assert.is(JSON.parse(ack.stdout).acked, true);
  await tick();
  const after = (await ops(mf, 'GET', '/alerts')).body;
  assert.equal(after.open.map((a: { id: string }) => a.id), [`tenant-quiet:${q.id}`], 'acknowledged: not opened again while the quarantine lasts');
  assert.equal(after.acked['quarantine:bad:aaaaaaaaaaaa'].by, 'robert');
  assert.ok(after.log.some((e: { event: string; by?: string }) => e.event === 'acked' && e.by === 'robert'), 'the ack is in the alert log');
});

test.run();
