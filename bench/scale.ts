// Bench of the Worker at fleet scale, in real workerd (miniflare, R2 + KV on disk; never a timed
// test). `benchScale()` returns:
//  - tick: the cron tick that takes in NEW rows (one batch from each of TENANTS tenants) over a
//    history of 100,000 rows and, with SNAPPY_BENCH_HUGE=1, 10,000,000 rows (1,000 skills, 100
//    staged revs): workerd's CPU (utime+stime of the process from /proc, an upper bound: it
//    includes the simulated R2 and KV and whatever else workerd did meanwhile), wall time, and
//    the bucket and KV operations it made;
//  - requests: bucket operations (R2 class A and B) and KV operations of one push, a no-op pull,
//    a pull after one new batch and a tick after it, at fleets of 10, 100 and 1,000 tenants;
//  - ingest: 100 tenants signing and sending batches concurrently over loopback for 60 s
//    (SNAPPY_BENCH_INGEST_S) under a per-tenant rate limit: rows/s, p50, p99, 429s;
//  - shards: the sharded tick of docs/scale.md "Past one bucket", simulated (bench/shards.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PQueue from 'p-queue';
import { R2BlobStore } from '../adapters/r2-blob-store.ts';
import { batchIdOf } from '../domain/ingest-protocol.ts';
import { Remote } from '../domain/layout.ts';
import { applyToTenantDaily } from '../domain/tenant-daily.ts';
import { runCli } from '../test/helpers/cli.ts';
import { ndjson, row, stageRev, tenant, type Tenant } from '../test/plugins/quorum/fleet.ts';
import { admit, OPS_TOKEN } from '../test/worker/client.ts';
import { r2Of } from '../test/worker/helpers.ts';
import { buildCountingWorker, cpuMsOf, settle, SignedClient, startCountingWorker, timedTick, type CountingWorker, type OpCounts } from './workerd.ts';

export interface BenchScaleOptions {
  dir: string;
  tenants?: number;
  skills?: number;
  revs?: number;
  newRows?: number;
  histories?: number[];
  historyBatchRows?: number;
  fleets?: number[];
  ingestSeconds?: number;
  ingestTenants?: number;
  ingestRows?: number;
  /** Per tenant, per 60 s: the rate limit bound for the ingest run. */
  ingestLimit?: number;
  /**
   * Percent of ingested rows that are runs of staged revs (default 0). Each such batch starts an
   * evaluation in the background; 100 tenants sending at full speed start more than workerd on
   * 2 cores finishes (docs/scale.md "What breaks first"), so the default measures ingest alone.
   */
  ingestRevShare?: number;
  parts?: string[];
  log?: (m: string) => void;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const DAY = 86_400_000;

/** The fleet's skills and staged revs: skill `s<k>`, and for the first `revs` skills one staged rev each. */
async function stage(blobs: R2BlobStore, revs: number): Promise<string[]> {
  const out: string[] = [];
  for (let k = 0; k < revs; k++) out.push(`s${k}:${await stageRev(blobs, `s${k}`, `Staged page of s${k}, bench.\n`)}`);
  return out;
}

/**
 * Rows of one batch in a fleet's proportions: plain runs of one of `skills` skills, and `open`
 * percent runs of the staged revs, scored 0.5 so they stay open (every tick evaluates them, none
 * is promoted). History (`old` percent) also has runs of revs decided long ago, which the tick drops.
 */
function rowsOf(t: Tenant, n: number, skills: number, revs: string[], salt: string, share: { open: number; old: number } = { open: 10, old: 0 }) {
  return Array.from({ length: n }, (_, i) => {
    const k = (i * 7919 + salt.length * 31 + t.id.charCodeAt(0)) % 100;
    if (k < share.open && revs.length) return row(t, revs[(i + k) % revs.length]!, 0.5, `${salt}-${i}`);
    if (k < share.open + share.old) return row(t, `s${(i * 131 + k) % skills}:0dd${String(k).padStart(9, "0")}`, 0.9, `${salt}-${i}`);
    return row(t, `s${(i * 131 + k) % skills}`, 0.7, `${salt}-${i}`);
  });
}

/**
 * Writes one batch, its meta, its tenant's daily summaries and its index entry as the Worker's
 * ingest does, stamped `at` (the summaries' cost is the ingest's: the ingest part measures it).
 */
async function putBatch(blobs: R2BlobStore, t: Tenant, rows: ReturnType<typeof row>[], at: number): Promise<void> {
  const body = ndjson(rows);
  const id = await batchIdOf(body);
  const index = Remote.aggregateIndex(at, t.id, id);
  await blobs.put(Remote.aggregateMeta(t.id, id), JSON.stringify({ index }), { ifAbsent: true });
  await blobs.put(Remote.aggregateBatch(t.id, id), body, { ifAbsent: true });
  await applyToTenantDaily(blobs, t.id, [{ batch: id, rows }]);
  await blobs.put(index, Remote.aggregateBatch(t.id, id), { ifAbsent: true });
}

async function fleetOf(n: number, from = 0): Promise<Tenant[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => tenant(`scale-${from + i}`)));
}

async function admitAll(w: CountingWorker, ts: Tenant[]): Promise<void> {
  const q = new PQueue({ concurrency: 8 });
  for (const t of ts) q.add(() => admit(w.mf, t, 'bench'));
  await q.onIdle();
}

/**
 * Ticks until the backlog is taken in (the history seeded as if it had arrived over 30 days)
 * and the cron's compaction has caught up with it, so the measured tick does neither.
 */
async function absorb(w: CountingWorker, blobs: R2BlobStore, log: (m: string) => void): Promise<number> {
  let ticks = 0;
  const compacted = async () => new TextDecoder().decode((await blobs.get(Remote.aggregateCompaction)) ?? new Uint8Array());
  for (;;) {
    const before = await compacted();
    const t = await timedTick(w);
    ticks++;
    const rec = JSON.parse(new TextDecoder().decode((await blobs.get(Remote.lastTick))!)) as { batches?: number; backlog?: number; ok: boolean; error?: string };
    if (!rec.ok) throw new Error(`tick failed: ${rec.error}`);
    const after = await compacted();
    log(`    absorbing history: tick ${ticks} took in ${rec.batches} batches (${t.cpuMs} ms CPU), backlog ${rec.backlog}; compacted up to ${after || 'nothing'}`);
    if (!rec.backlog && after === before) return ticks;
  }
}

/** One history size: seed, take in, then the measured tick over NEW rows. */
async function tickOver(script: string, dir: string, history: number, o: Required<Pick<BenchScaleOptions, 'tenants' | 'skills' | 'revs' | 'newRows' | 'historyBatchRows'>>, log: (m: string) => void) {
  const persist = path.join(dir, `tick-${history}`);
  const w = await startCountingWorker(script, { persist, bindings: { OPS_TOKEN } });
  try {
    const blobs = new R2BlobStore(await r2Of(w.mf));
    const fleet = await fleetOf(o.tenants);
    const s0 = performance.now();
    await admitAll(w, fleet);
    const revs = await stage(blobs, o.revs);
    // The largest history comes in larger batches (at most the ingest limit of 10,000 rows), so seeding takes minutes, not hours.
    const batchRows = Math.min(10_000, Math.max(o.historyBatchRows, Math.ceil(history / 1_000)));
    const batches = Math.ceil(history / batchRows);
    const t0 = Date.now() - 30 * DAY;
    const q = new PQueue({ concurrency: 16 });
    for (let b = 0; b < batches; b++) {
      const t = fleet[b % fleet.length]!;
      const n = Math.min(batchRows, history - b * batchRows);
      q.add(() => putBatch(blobs, t, rowsOf(t, n, o.skills, revs, `h${b}`, { open: 1, old: 9 }), t0 + Math.floor((b * 30 * DAY) / batches)));
      if (q.size > 64) await q.onSizeLessThan(32);
    }
    await q.onIdle();
    const seedS = Math.round((performance.now() - s0) / 1000);
    const ticks = await absorb(w, blobs, log);
    log(`  history of ${history} rows (${batches} batches of ${batchRows}) seeded in ${seedS} s, taken in by ${ticks} ticks`);
    // The new rows: one batch from every tenant, as a minute of a fleet pushing every minute.
    const per = Math.max(1, Math.floor(o.newRows / fleet.length));
    const now = Date.now();
    for (const [i, t] of fleet.entries()) q.add(() => putBatch(blobs, t, rowsOf(t, per, o.skills, revs, `n${i}`), now + i));
    await q.onIdle();
    await w.ops();
    // The tick that takes them in; under load a tick may stop at its budget (25 s wall) and leave a
    // backlog for the next: the ticks until none is left are summed.
    const tick = { cpuMs: 0, wallMs: 0, ticks: 0, batches: 0 };
    for (;;) {
      const t = await timedTick(w);
      const rec = JSON.parse(new TextDecoder().decode((await blobs.get(Remote.lastTick))!)) as { batches?: number; backlog?: number };
      tick.cpuMs += t.cpuMs;
      tick.wallMs += t.wallMs;
      tick.ticks++;
      tick.batches += rec.batches ?? 0;
      if (!rec.backlog || tick.ticks >= 10) break;
    }
    const ops = await settle(w, {});
    await w.ops();
    const idle = await timedTick(w);
    const idleOps = await settle(w, {});
    log(`  tick over ${history} rows: ${per * fleet.length} new rows in ${tick.batches} batches (${tick.ticks} tick${tick.ticks > 1 ? 's' : ''}): ${tick.cpuMs} ms workerd CPU, ${tick.wallMs} ms wall, R2 A ${ops['r2.classA'] ?? 0} / B ${ops['r2.classB'] ?? 0}; idle tick ${idle.cpuMs} ms CPU`);
    return { historyRows: history, newRows: per * fleet.length, newBatches: tick.batches, ticks: tick.ticks, cpuMs: tick.cpuMs, wallMs: tick.wallMs, ops: brief(ops), idleTick: { cpuMs: idle.cpuMs, wallMs: idle.wallMs, ops: brief(idleOps) } };
  } finally {
    await w.dispose();
  }
}

/** The counts that price a run: R2 class A and B, KV reads and writes. */
function brief(c: OpCounts) {
  return { r2A: c['r2.classA'] ?? 0, r2B: c['r2.classB'] ?? 0, kvRead: c['kv.reads'] ?? 0, kvWrite: c['kv.writes'] ?? 0, kvList: c['kv.lists'] ?? 0 };
}

/** A machine of one more tenant, set up for `snappy run pull` through the Worker. */
async function puller(dir: string, url: string, name = 'puller') {
  const root = path.join(dir, name);
  const state = path.join(root, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  const config = path.join(root, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync', 'aggregate'], worker: { url } }));
  const env = { SNAPPY_MASTER_KEY: `bench-scale-${name}-3c1f9e0a7b2d4c6e8f1a3b5c7d9e0f2a`, SNAPPY_MACHINE_ID: `bench-${name}`, SNAPPY_STATE: state, SNAPPY_CONFIG: config };
  const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: root, env })).stdout);
  const a = await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'bench'], { cwd: root, env: { ...env, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
  if (a.code !== 0) throw new Error(`admitting the puller failed: ${a.stderr}`);
  return async () => {
    const r = await runCli(['run', 'pull', '--json'], { cwd: root, env });
    if (r.code !== 0) throw new Error(`pull failed: ${r.stderr}`);
    const rep = JSON.parse(r.stdout).reports.pull;
    return { requests: rep.requests as number, batches: Number(rep.aggregate?.batches ?? 0), segments: Number(rep.aggregate?.segments ?? 0), rows: Number(rep.aggregate?.added ?? 0) };
  };
}

/** Bucket operations of a push, a no-op pull, a pull after one batch and a tick, as the fleet grows. */
async function requestsByFleet(script: string, dir: string, fleets: number[], skills: number, revCount: number, log: (m: string) => void) {
  const w = await startCountingWorker(script, { persist: path.join(dir, 'requests'), bindings: { OPS_TOKEN } });
  try {
    const blobs = new R2BlobStore(await r2Of(w.mf));
    const revs = await stage(blobs, revCount);
    const pull = await puller(dir, w.url);
    const out: Record<string, unknown>[] = [];
    let fleet: Tenant[] = [];
    let lastWrite = 0;
    for (const size of fleets) {
      const more = await fleetOf(size - fleet.length, fleet.length);
      await admitAll(w, more);
      // Each tenant's history: three hours of batches, in hours the cron has not compacted yet
      // (a batch indexed into a compacted hour would be in no segment): older for the first sizes.
      const q = new PQueue({ concurrency: 16 });
      const from = 2 + 3 * (fleets.length - 1 - fleets.indexOf(size));
      for (const t of more) for (let h = 0; h < 3; h++) q.add(() => putBatch(blobs, t, rowsOf(t, 10, skills, revs, `h${h}`), Date.now() - (from + h) * 3_600_000));
      await q.onIdle();
      fleet = [...fleet, ...more];
      await timedTick(w);
      await pull();
      // A no-op pull: nothing written in the 30 s its cursor trails by.
      const wait = lastWrite + 31_000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await pull();
      await w.ops();
      const noop = await pull();
      const noopOps = brief(await settle(w, {}));
      const pusher = new SignedClient(w.url, fleet[0]!);
      const res = await pusher.ingest(ndjson(rowsOf(fleet[0]!, 10, skills, revs, `p${String(size).padStart(6, '0')}`)));
      if (res.status >= 300) throw new Error(`push failed: ${res.status} ${await res.text()}`);
      lastWrite = Date.now();
      const pushOps = brief(await settle(w, {}));
      const after = await pull();
      const afterOps = brief(await settle(w, {}));
      const t = await timedTick(w);
      const tickOps = brief(await settle(w, {}));
      // A new machine's first pull: the compacted hours as segments, the open hour as batches.
      const fresh = await puller(dir, w.url, `fresh-${size}`);
      await settle(w, {});
      const first = await fresh();
      const freshOps = brief(await settle(w, {}));
      const history = fleet.length * 3 + fleets.slice(0, fleets.indexOf(size) + 1).length;
      log(`  ${size} tenants: a fresh pull of ${history} batches read ${first.segments} segments and ${first.batches} batches (${first.rows} rows) in ${first.requests} requests, R2 ${freshOps.r2A}A/${freshOps.r2B}B`);
      log(`  ${size} tenants: push R2 ${pushOps.r2A}A/${pushOps.r2B}B; no-op pull ${noop.requests} requests, R2 ${noopOps.r2A}A/${noopOps.r2B}B; pull after one batch ${after.batches} batch, R2 ${afterOps.r2A}A/${afterOps.r2B}B; tick R2 ${tickOps.r2A}A/${tickOps.r2B}B (${t.cpuMs} ms CPU)`);
      out.push({ tenants: size, push: pushOps, noopPull: { requests: noop.requests, ...noopOps }, pullAfterOneBatch: { requests: after.requests, batches: after.batches, ...afterOps }, tick: { cpuMs: t.cpuMs, ...tickOps }, freshPull: { batchesStored: history, ...first, ...freshOps } });
    }
    return out;
  } finally {
    await w.dispose();
  }
}

/** 100 tenants sending concurrently for `seconds`, each as fast as the Worker answers; stops by itself. */
async function ingestLoad(script: string, dir: string, o: { seconds: number; tenants: number; rows: number; limit: number; skills: number; revs: number; revShare: number }, log: (m: string) => void) {
  const w = await startCountingWorker(script, {
    persist: path.join(dir, 'ingest'),
    bindings: { OPS_TOKEN, SNAPPY_INGEST_LIMIT_PERIOD: '60' },
    ratelimits: { SNAPPY_INGEST_LIMITER: { simple: { limit: o.limit, period: 60 } } },
  });
  try {
    const blobs = new R2BlobStore(await r2Of(w.mf));
    const revs = await stage(blobs, o.revs);
    const fleet = await fleetOf(o.tenants);
    await admitAll(w, fleet);
    await w.ops();
    const ms: number[] = [];
    let rows = 0;
    let limited = 0;
    let failed = 0;
    let resets = 0;
    const c0 = cpuMsOf(w.pid);
    const t0 = performance.now();
    const end = t0 + o.seconds * 1000;
    await Promise.all(
      fleet.map(async (t, ti) => {
        const client = new SignedClient(w.url, t);
        for (let i = 0; performance.now() < end; i++) {
          const body = ndjson(rowsOf(t, o.rows, o.skills, revs, `l${ti}-${i}`, { open: o.revShare, old: 0 }));
          const s = performance.now();
          let res: Response;
          try {
            res = await client.ingest(body);
            await res.arrayBuffer();
          } catch (err) {
            // A connection reset by the loaded server is a failed request, counted; the client's own retry would send it again.
            resets++;
            if (resets <= 3) log(`    ingest request failed: ${(err as Error).message} (${String((err as { cause?: Error }).cause?.message ?? '')})`);
            continue;
          }
          if (res.status === 429) {
            limited++;
            // A client told to wait does (WorkerRemote honours Retry-After); the load stops at `end` regardless.
            await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - performance.now()))));
            continue;
          }
          if (res.status >= 300) failed++;
          else {
            ms.push(performance.now() - s);
            rows += o.rows;
          }
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpuMs = Math.round(cpuMsOf(w.pid) - c0);
    // The evaluations ingest started in the background are still running: count what they did in the next 30 s.
    const ops = await settle(w, {}, 30_000).then(brief, (err: Error) => ({ unknown: `the Worker did not answer: ${err.message}` }));
    const sorted = ms.sort((a, b) => a - b);
    const r = { seconds: Math.round(wallS), tenants: o.tenants, rowsPerBatch: o.rows, revRowsPercent: o.revShare, rateLimit: `${o.limit} batches per tenant per 60 s`, batches: ms.length, rowsPerSecond: Math.round(rows / wallS), p50Ms: Math.round(pct(sorted, 50)), p99Ms: Math.round(pct(sorted, 99)), rateLimited: limited, failed, connectionErrors: resets, workerdCpuMs: cpuMs, ops };
    log(`  ingest: ${r.rowsPerSecond} rows/s from ${o.tenants} tenants over ${r.seconds} s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${limited} rate-limited, ${failed} refused, ${resets} connection errors; workerd ${cpuMs} ms CPU`);
    return r;
  } finally {
    await w.dispose();
  }
}

export async function benchScale(opts: BenchScaleOptions): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const o = {
    tenants: opts.tenants ?? 1_000,
    skills: opts.skills ?? 1_000,
    revs: opts.revs ?? 100,
    newRows: opts.newRows ?? 10_000,
    historyBatchRows: opts.historyBatchRows ?? 1_000,
  };
  const parts = opts.parts ?? ['tick', 'requests', 'ingest', 'shards'];
  const histories = opts.histories ?? [100_000, ...(process.env.SNAPPY_BENCH_HUGE ? [10_000_000] : [])];
  const out: Record<string, unknown> = { where: 'workerd (miniflare 4, R2 + KV persisted to disk) on loopback; CPU: the workerd process, utime+stime from /proc (upper bound)', load: os.loadavg().map((x) => x.toFixed(2)).join(' '), ...o };
  const script = await buildCountingWorker();
  const deadlines: { what: string; value: number; limit: number }[] = [];
  if (parts.includes('tick')) {
    const ticks = [];
    for (const h of histories) ticks.push(await tickOver(script, opts.dir, h, o, log));
    out.tick = ticks;
    for (const t of ticks) deadlines.push({ what: `tick CPU over ${t.historyRows} rows of history (ms, workerd process)`, value: t.cpuMs, limit: 1_000 });
    if (ticks.length > 1) {
      const ratio = Math.round((ticks[ticks.length - 1]!.cpuMs / Math.max(1, ticks[0]!.cpuMs)) * 100) / 100;
      out.tickCpuRatio = ratio;
      deadlines.push({ what: 'tick CPU, largest history over smallest (ratio)', value: ratio, limit: 1.5 });
    }
  }
  if (parts.includes('requests')) out.requests = await requestsByFleet(script, opts.dir, opts.fleets ?? [10, 100, 1_000], o.skills, o.revs, log);
  if (parts.includes('ingest')) {
    out.ingest = await ingestLoad(script, opts.dir, { seconds: opts.ingestSeconds ?? 60, tenants: opts.ingestTenants ?? 100, rows: opts.ingestRows ?? 100, limit: opts.ingestLimit ?? 600, skills: o.skills, revs: o.revs, revShare: opts.ingestRevShare ?? 0 }, log);
    out.load = `${out.load} (start), ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (end)`;
  }
  if (parts.includes('shards')) {
    const { simulateShards } = await import('./shards.ts');
    out.shards = simulateShards({ log });
  }
  return { ...out, deadlines };
}
