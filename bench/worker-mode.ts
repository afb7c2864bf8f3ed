// Bench of Worker mode (never a timed test). `benchWorkerMode()` returns:
//  - a 1,000-row ingest into real workerd (miniflare, R2 + KV) through the real client
//    (signatures v2, loopback HTTP): p50 and p99 over the trials;
//  - a no-op push and a no-op pull through the Worker against a no-op push and pull on the
//    file remote (direct mode), in the same run: requests made and wall time (median of runs),
//    with the same state (a few hundred pages) pushed once beforehand.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkerRemote } from '../adapters/worker-remote.ts';
import { runCli } from '../test/helpers/cli.ts';
import { ndjson, row, tenant } from '../test/plugins/quorum/fleet.ts';
import { admit, OPS_TOKEN } from '../test/worker/client.ts';
import { buildTestWorker, portOf, startWorker } from '../test/worker/helpers.ts';

export interface BenchWorkerModeOptions {
  dir: string;
  trials?: number;
  pages?: number;
  runs?: number;
  log?: (m: string) => void;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchWorkerMode(opts: BenchWorkerModeOptions): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const trials = opts.trials ?? 50;
  const pages = opts.pages ?? 300;
  const runs = opts.runs ?? 5;
  const mf = await startWorker(await buildTestWorker(), { OPS_TOKEN });
  const port = await portOf(mf);
  const url = `http://127.0.0.1:${port}`;
  try {
    // 1. ingest: 1,000 rows a request, through the same client `snappy run push` uses.
    const t = await tenant('bench-ingest');
    await admit(mf, t);
    const client = new WorkerRemote(url, { tenant: t.id, masterKey: t.masterKey });
    const ms: number[] = [];
    for (let i = 0; i < trials; i++) {
      const body = ndjson(Array.from({ length: 1000 }, (_, j) => row(t, j % 10 ? 'summarize' : 'summarize:aaaaaaaaaaa1', 0.5 + (j % 50) / 100, `b${i}-${j}`)));
      const t0 = performance.now();
      await client.shipAggregate(body);
      ms.push(performance.now() - t0);
    }
    const sorted = [...ms].sort((a, b) => a - b);
    const ingest = { rowsPerRequest: 1000, trials, p50Ms: Math.round(pct(sorted, 50)), p99Ms: Math.round(pct(sorted, 99)), rowsPerSecond: Math.round((1000 * trials) / (ms.reduce((a, b) => a + b, 0) / 1000)) };
    log(`  1,000-row ingest in workerd: p50 ${ingest.p50Ms} ms, p99 ${ingest.p99Ms} ms (${trials} trials)`);

    // 2. no-op push and pull: Worker mode against direct mode on the file remote.
    const key = 'bench-worker-mode-6f1e0c9a2b7d4e3f8a5c1b0d9e2f7a6c';
    const side = async (mode: 'worker' | 'direct') => {
      const root = path.join(opts.dir, `wm-${mode}`);
      const state = path.join(root, 'state');
      mkdirSync(path.join(state, 'skills'), { recursive: true });
      for (let i = 0; i < pages; i++) writeFileSync(path.join(state, 'skills', `p${i}.md`), `page ${i}\n`);
      const config = path.join(root, 'snappy.config.json');
      writeFileSync(config, JSON.stringify({ builtins: ['sync'], ...(mode === 'worker' ? { worker: { url } } : { remote: `file://${path.join(root, 'remote')}` }) }));
      const env = { SNAPPY_MASTER_KEY: key, SNAPPY_MACHINE_ID: `bench-${mode}`, SNAPPY_STATE: state, SNAPPY_CONFIG: config };
      if (mode === 'worker') {
        const k = JSON.parse((await runCli(['ops', 'key', '--json'], { cwd: root, env })).stdout);
        await runCli(['ops', 'tenants', 'admit', k.tenant, k.publicKey, '--by', 'bench'], { cwd: root, env: { ...env, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
      }
      const first = await runCli(['run', 'push', '--json'], { cwd: root, env });
      if (first.code !== 0) throw new Error(`first push (${mode}) failed: ${first.stderr}`);
      await runCli(['run', 'pull'], { cwd: root, env });
      const measure = async (task: 'push' | 'pull') => {
        const wall: number[] = [];
        let requests: number | null = null;
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          const r = await runCli(['run', task, '--json'], { cwd: root, env });
          wall.push(performance.now() - t0);
          if (r.code !== 0) throw new Error(`no-op ${task} (${mode}) failed: ${r.stderr}`);
          const rep = JSON.parse(r.stdout).reports[task];
          requests = rep.requests ?? null;
          if (rep.files !== 0) throw new Error(`the no-op ${task} (${mode}) moved ${rep.files} files`);
        }
        return { medianMs: Math.round(median(wall)), requests };
      };
      return { push: await measure('push'), pull: await measure('pull') };
    };
    const worker = await side('worker');
    const direct = await side('direct');
    log(`  no-op push: Worker ${worker.push.medianMs} ms / ${worker.push.requests} requests, direct ${direct.push.medianMs} ms; no-op pull: Worker ${worker.pull.medianMs} ms / ${worker.pull.requests} requests, direct ${direct.pull.medianMs} ms (${pages} pages)`);
    return {
      where: 'workerd (miniflare, R2 + KV) on loopback; the CLI as processes',
      ingest,
      noopPush: { pages, worker: worker.push, direct: direct.push, ratio: Math.round((worker.push.medianMs / Math.max(1, direct.push.medianMs)) * 100) / 100 },
      noopPull: { pages, worker: worker.pull, direct: direct.pull, ratio: Math.round((worker.pull.medianMs / Math.max(1, direct.pull.medianMs)) * 100) / 100 },
    };
  } finally {
    await mf.dispose();
  }
}
