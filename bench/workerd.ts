// What the scale benches share: the Worker built with counted bindings (bench/counting-worker.ts)
// running in real workerd (miniflare, R2 + KV kept on disk), the workerd process's CPU from
// /proc, and signed requests over loopback.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Miniflare } from 'miniflare';
import { AUTH_VERSION, bodyHashOf, HEADER_AUTH, HEADER_SIGNATURE, HEADER_TENANT, HEADER_TIMESTAMP, tenantSigner, type TenantSigner } from '../domain/auth.ts';
import { ROOT } from '../test/helpers/cli.ts';
import { tmpDir } from '../test/helpers/tmp.ts';
import { portOf, startWorker } from '../test/worker/helpers.ts';
import type { Tenant } from '../test/plugins/quorum/fleet.ts';

export type OpCounts = Record<string, number>;

export interface CountingWorker {
  mf: Miniflare;
  url: string;
  /** The workerd process (its CPU is read from /proc). */
  pid: number;
  /** Bucket and KV operations since the last call (which resets them). */
  ops(): Promise<OpCounts>;
  dispose(): Promise<void>;
}

/** Builds the Worker around bench/counting-worker.ts (the default config) into a temp file. */
export async function buildCountingWorker(): Promise<string> {
  const { buildWorker } = (await import(path.join(ROOT, 'worker', 'build.mjs'))) as { buildWorker(o: Record<string, unknown>): Promise<{ outfile: string }> };
  const outfile = path.join(tmpDir('snappy-bench-worker-'), 'worker.js');
  await buildWorker({ outfile, entry: path.join(ROOT, 'bench', 'counting-worker.ts'), config: path.join(ROOT, 'test/worker/fixtures/empty.config.ts'), cwd: ROOT });
  return outfile;
}

const CLK_TCK = 100;

/** Processes below `root` in the process tree (from /proc). */
function descendants(root: number): { pid: number; comm: string }[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  for (const [pid, pp] of parent) {
    for (let p = pp, hops = 0; p > 1 && hops < 10; p = parent.get(p) ?? 0, hops++) {
      if (p === root) {
        out.push({ pid, comm: comm.get(pid) ?? '' });
        break;
      }
    }
  }
  return out;
}

/** User + system CPU of a process so far, ms (clock-tick resolution: 10 ms). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

export async function startCountingWorker(script: string, opts: { persist?: string; bindings?: Record<string, string>; ratelimits?: Record<string, { simple: { limit: number; period?: 10 | 60 } }> } = {}): Promise<CountingWorker> {
  const before = new Set(descendants(process.pid).map((p) => p.pid));
  const mf = await startWorker(script, opts.bindings ?? {}, { quiet: !process.env.SNAPPY_BENCH_WORKER_LOG, ...(opts.persist ? { persist: opts.persist } : {}), ...(opts.ratelimits ? { ratelimits: opts.ratelimits } : {}) });
  const url = `http://127.0.0.1:${await portOf(mf)}`;
  const fresh = descendants(process.pid).filter((p) => p.comm === 'workerd' && !before.has(p.pid));
  if (!fresh.length) throw new Error('no workerd process found below this one');
  const pid = Math.max(...fresh.map((p) => p.pid));
  return {
    mf,
    url,
    pid,
    async ops() {
      // workerd may close a kept-alive connection as it is reused: ask again.
      for (let i = 0; ; i++) {
        try {
          const res = await fetch(`${url}/__bench/ops`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
          return (await res.json()) as OpCounts;
        } catch (err) {
          if (i >= 4) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
    dispose: () => mf.dispose(),
  };
}

/** Fires the cron handler once; returns the workerd process's CPU (an upper bound on the tick's: it includes the simulated R2 and KV) and wall time. */
export async function timedTick(w: CountingWorker): Promise<{ cpuMs: number; wallMs: number }> {
  const worker = await w.mf.getWorker();
  const c0 = cpuMsOf(w.pid);
  const t0 = performance.now();
  await worker.scheduled({ cron: '* * * * *' });
  const wallMs = Math.round(performance.now() - t0);
  return { cpuMs: Math.round(cpuMsOf(w.pid) - c0), wallMs };
}

/** A tenant's signed requests over loopback, as WorkerRemote sends them, without its waits on 429. */
export class SignedClient {
  private signer?: Promise<TenantSigner>;
  constructor(
    private readonly url: string,
    readonly t: Tenant,
  ) {}

  async send(method: string, pathAndQuery: string, body?: string, headers: Record<string, string> = {}): Promise<Response> {
    const u = new URL(pathAndQuery, this.url);
    const signer = await (this.signer ??= tenantSigner(this.t.masterKey, this.t.id));
    const timestamp = Date.now();
    const signature = await signer.sign({ method, path: u.pathname, query: u.search.slice(1), bodyHash: await bodyHashOf(body), timestamp });
    // Bounded: a load that stops by itself must not wait on one answer forever.
    return fetch(u, { method, signal: AbortSignal.timeout(30_000), headers: { ...headers, [HEADER_AUTH]: AUTH_VERSION, [HEADER_TENANT]: this.t.id, [HEADER_TIMESTAMP]: String(timestamp), [HEADER_SIGNATURE]: signature }, ...(body !== undefined ? { body } : {}) });
  }

  ingest(ndjson: string): Promise<Response> {
    return this.send('POST', '/v1/ingest', ndjson, { 'content-type': 'application/x-ndjson' });
  }
}

/** Waits until the Worker's background work (waitUntil) has settled (no operation for 150 ms), at most `limitMs` (then `unsettled` is set). */
export async function settle(w: CountingWorker, into: OpCounts, limitMs = 120_000): Promise<OpCounts> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 150));
    const more = await w.ops();
    if (!Object.keys(more).length) return into;
    for (const [k, v] of Object.entries(more)) into[k] = (into[k] ?? 0) + v;
  }
  into.unsettled = 1;
  return into;
}
