import path from 'node:path';
import { Miniflare } from 'miniflare';
import type { KVNamespace, R2Bucket } from '../../adapters/workers-types.ts';
import { ROOT } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Newest compatibility date the installed workerd accepts. */
export const COMPAT_DATE = '2026-04-26';

/** Builds the Worker with `config` (a file under test/worker/fixtures or absent) into a temp file. */
export async function buildTestWorker(config?: string): Promise<string> {
  const { buildWorker } = (await import(path.join(ROOT, 'worker', 'build.mjs'))) as { buildWorker(o: Record<string, unknown>): Promise<{ outfile: string }> };
  const outfile = path.join(tmpDir('snappy-worker-'), 'worker.js');
  await buildWorker({ outfile, ...(config ? { config: path.join(ROOT, config) } : { config: path.join(ROOT, 'test/worker/fixtures/empty.config.ts') }), cwd: ROOT });
  return outfile;
}

/** Starts the built Worker in real workerd with KV and R2 bindings (in memory). */
export async function startWorker(scriptPath: string, bindings: Record<string, string> = {}, extra: { ratelimits?: Record<string, { simple: { limit: number; period?: 10 | 60 } }>; persist?: string; quiet?: boolean } = {}): Promise<Miniflare> {
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: path.dirname(scriptPath),
    compatibilityDate: COMPAT_DATE,
    kvNamespaces: ['SNAPPY_KV'],
    r2Buckets: ['SNAPPY_BUCKET'],
    bindings,
    host: '127.0.0.1',
    ...(extra.ratelimits ? { ratelimits: extra.ratelimits } : {}),
    // KV and R2 kept on disk, so a restarted Worker finds what the stopped one wrote.
    ...(extra.persist ? { kvPersist: path.join(extra.persist, 'kv'), r2Persist: path.join(extra.persist, 'r2') } : {}),
    // The Worker's console goes to stderr: stdout stays free for --json style output (bench).
    // Quiet drops it (fault suites restart the Worker many times).
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      if (extra.quiet) {
        stdout.resume();
        stderr.resume();
        return;
      }
      stdout.pipe(process.stderr);
      stderr.pipe(process.stderr);
    },
  });
  await mf.ready;
  return mf;
}

/**
 * The port workerd listens on. Start a Worker without a port and ask this: workerd binds a free
 * port itself and reports it, where a port picked beforehand can be taken meanwhile by another
 * process (an "Address already in use" that killed a suite on a busy machine).
 */
export async function portOf(mf: Miniflare): Promise<number> {
  return Number((await mf.ready).port);
}

/**
 * The Worker's R2 bucket and KV namespace, seen from Node, typed as the Worker sees them.
 * miniflare types its Node-side proxies with undici's Headers instead of workerd's, which
 * makes them structurally different types; the objects behave as the bindings do.
 */
export async function r2Of(mf: Miniflare, name = 'SNAPPY_BUCKET'): Promise<R2Bucket> {
  return (await mf.getR2Bucket(name)) as unknown as R2Bucket;
}

export async function kvOf(mf: Miniflare, name = 'SNAPPY_KV'): Promise<KVNamespace> {
  return (await mf.getKVNamespace(name)) as unknown as KVNamespace;
}
