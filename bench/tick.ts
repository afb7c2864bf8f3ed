// Bench of the quorum tick (never a timed test). `benchTick()` returns:
//  - the CPU time of one tick that takes in 1,000 new aggregate rows, over a history of
//    1,000 rows and over a history of 1,000,000 rows (flat cost: the ratio should stay < 2),
//    measured in Node in-process (process.cpuUsage: main thread + libuv pool) on the file
//    remote, with batch discovery on (direct mode) and off (Worker mode, index only);
//  - the promotion latency from the push that completes a quorum to `last_quorum_promotion`,
//    median and max over 20 trials, in real workerd (miniflare, R2 + KV bindings).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobKV } from '../adapters/blob-kv.ts';
import { FileBlobStore } from '../adapters/file-blob-store.ts';
import { KVBinding } from '../adapters/kv-binding.ts';
import { R2BlobStore } from '../adapters/r2-blob-store.ts';
import { silentLogger } from '../core/ports.ts';
import { createRunner } from '../core/runner.ts';
import { runTick } from '../lifecycle/tick.ts';
import { batchIdOf } from '../domain/ingest-protocol.ts';
import { Remote } from '../domain/layout.ts';
import quorum from '../plugins/quorum/index.ts';
import { ndjson, row, stageRev, tenant, type Tenant } from '../test/plugins/quorum/fleet.ts';

export interface BenchTickOptions {
  historyRows?: number;
  newRows?: number;
  batchRows?: number;
  trials?: number;
  /** Skip the workerd latency part. */
  noLatency?: boolean;
  log?: (m: string) => void;
}

const REVS = 50;
const OLD_REVS = 100;
const TENANTS = 10;

/**
 * A history row, in a fleet's proportions: 90% plain skill runs (no quorum work at all), 9%
 * runs of 100 old revs that the fleet endorsed and that were promoted long ago, 1% runs of
 * the 50 open revs (scored 0.5: they stay open, so every tick evaluates them).
 */
export function historyRow(t: Tenant, i: number, revs: string[], run: string) {
  const k = i % 100;
  if (k < 90) return row(t, `plain${i % 20}`, 0.7, run);
  if (k < 99) return row(t, `old${i % OLD_REVS}:${revs[REVS + (i % OLD_REVS)]}`, 0.95, run);
  return row(t, `skill${i % REVS}:${revs[i % REVS]}`, 0.5, run);
}

export async function fleetRemote(historyRows: number, batchRows: number, tenants: Tenant[], revs: string[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-bench-tick-'));
  const blobs = new FileBlobStore(dir);
  let n = 0;
  let b = 0;
  // The history arrived over the last 30 days.
  const span = 30 * 86_400_000;
  const t0 = Date.now() - span;
  const step = Math.floor(span / Math.max(1, Math.ceil(historyRows / batchRows)));
  const writeBatch = async (rows: ReturnType<typeof row>[], t: Tenant, at: number) => {
    const body = ndjson(rows);
    const id = await batchIdOf(body);
    await blobs.put(Remote.aggregateBatch(t.id, id), body, { ifAbsent: true });
    await blobs.put(Remote.aggregateIndex(at, t.id, id), Remote.aggregateBatch(t.id, id), { ifAbsent: true });
  };
  while (n < historyRows) {
    const t = tenants[b % tenants.length]!;
    const size = Math.min(batchRows, historyRows - n);
    const rows = Array.from({ length: size }, (_, i) => historyRow(t, n + i, revs, `h${b}-${i}`));
    await writeBatch(rows, t, t0 + b * step);
    n += size;
    b++;
  }
  return { dir, blobs, writeBatch };
}

async function cpuOfTick(blobs: FileBlobStore, discover: boolean): Promise<{ cpuMs: number; wallMs: number; batches: number }> {
  const runner = createRunner({ plugins: [{ plugin: quorum, options: { discover } }] });
  const kv = new BlobKV(blobs);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const res = await runTick(runner.hooks, { budgetMs: 600_000, blobs, kv, log: silentLogger, runtime: 'node' });
  const c = process.cpuUsage(c0);
  return { cpuMs: Math.round((c.user + c.system) / 100) / 10, wallMs: Math.round(performance.now() - w0), batches: (res.quorum as { scan: { batches: number } }).scan.batches };
}

async function flatCost(historyRows: number, newRows: number, batchRows: number, discover: boolean, log: (m: string) => void) {
  const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, i) => tenant(`bench-${i}`)));
  const dir0 = mkdtempSync(path.join(os.tmpdir(), 'snappy-bench-revs-'));
  const revs: string[] = [];
  for (let i = 0; i < REVS; i++) revs.push(await stageRev(new FileBlobStore(dir0), `skill${i}`, `Page ${i}.\n`));
  for (let i = 0; i < OLD_REVS; i++) revs.push(await stageRev(new FileBlobStore(dir0), `old${i}`, `Old page ${i}.\n`));
  rmSync(dir0, { recursive: true, force: true });
  const { dir, blobs, writeBatch } = await fleetRemote(historyRows, batchRows, tenants, revs);
  try {
    for (let i = 0; i < REVS; i++) await stageRev(blobs, `skill${i}`, `Page ${i}.\n`);
    for (let i = 0; i < OLD_REVS; i++) await stageRev(blobs, `old${i}`, `Old page ${i}.\n`);
    const first = await cpuOfTick(blobs, true);
    log(`  history of ${historyRows} rows taken in: ${first.batches} batches, ${first.cpuMs} ms CPU`);
    const t = tenants[0]!;
    // New rows: half on the open revs (their tallies grow), half plain.
    const rows = Array.from({ length: newRows }, (_, i) => (i % 2 ? row(t, `skill${i % REVS}:${revs[i % REVS]}`, 0.5, `new-${i}`) : row(t, `plain${i % 20}`, 0.7, `new-${i}`)));
    await writeBatch(rows, t, Date.now());
    const tick = await cpuOfTick(blobs, discover);
    log(`  tick with ${newRows} new rows over ${historyRows} (discover ${discover}): ${tick.cpuMs} ms CPU, ${tick.wallMs} ms wall`);
    return tick;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function latency(trials: number, log: (m: string) => void): Promise<{ medianMs: number; maxMs: number; samples: number[] }> {
  const { buildTestWorker, startWorker, r2Of, kvOf } = await import('../test/worker/helpers.ts');
  const { admit, ingest, OPS_TOKEN } = await import('../test/worker/client.ts');
  const mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  try {
    const blobs = new R2BlobStore(await r2Of(mf));
    const kv = new KVBinding(await kvOf(mf));
    const fleet = await Promise.all(['a', 'b', 'c'].map((n) => tenant(`lat-${n}`)));
    for (const t of fleet) await admit(mf, t);
    const samples: number[] = [];
    for (let i = 0; i < trials; i++) {
      const rev = await stageRev(blobs, `lat${i}`, `Latency trial ${i}.\n`);
      for (const t of fleet.slice(0, 2)) await ingest(mf, t, ndjson([row(t, `lat${i}:${rev}`, 0.9, `${i}-1`), row(t, `lat${i}:${rev}`, 0.9, `${i}-2`)]));
      const c = fleet[2]!;
      const t0 = performance.now();
      await ingest(mf, c, ndjson([row(c, `lat${i}:${rev}`, 0.9, `${i}-1`)]));
      for (;;) {
        const v = await kv.get('last_quorum_promotion');
        if (v && JSON.parse(v).rev_id === rev) break;
        if (performance.now() - t0 > 120_000) throw new Error(`trial ${i}: no promotion within 120 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      samples.push(Math.round(performance.now() - t0));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)]!;
    log(`  promotion latency over ${trials} trials: median ${medianMs} ms, max ${sorted[sorted.length - 1]} ms`);
    return { medianMs, maxMs: sorted[sorted.length - 1]!, samples };
  } finally {
    await mf.dispose();
  }
}

export async function benchTick(opts: BenchTickOptions = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const historyRows = opts.historyRows ?? 1_000_000;
  const newRows = opts.newRows ?? 1_000;
  const batchRows = opts.batchRows ?? 1_000;
  const out: Record<string, unknown> = { where: 'node in-process, file remote (CPU: process.cpuUsage)', historyRows, newRows, batchRows, openRevs: REVS, promotedRevs: OLD_REVS, tenants: TENANTS };
  for (const discover of [false, true]) {
    const small = await flatCost(1_000, newRows, batchRows, discover, log);
    const large = await flatCost(historyRows, newRows, batchRows, discover, log);
    out[discover ? 'directMode' : 'workerMode'] = { small, large, cpuRatio: Math.round((large.cpuMs / Math.max(0.1, small.cpuMs)) * 100) / 100 };
  }
  if (!opts.noLatency) {
    const lat = await latency(opts.trials ?? 20, log);
    out.latency = { where: 'workerd (miniflare), ingest -> last_quorum_promotion', ...lat };
    // The design's promise: a push that completes a quorum is promoted within a minute (and typically seconds).
    out.deadlines = [
      { what: 'promotion latency, median (ms)', value: lat.medianMs, limit: 5_000 },
      { what: 'promotion latency, max (ms)', value: lat.maxMs, limit: 60_000 },
    ];
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const historyRows = Number(process.env.BENCH_HISTORY_ROWS ?? 1_000_000);
  benchTick({ historyRows, noLatency: !!process.env.BENCH_NO_LATENCY }).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
