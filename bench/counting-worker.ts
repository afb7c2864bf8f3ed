// The Worker as deployed (worker/index.ts), with its R2 and KV bindings counted: the bench
// builds this entry instead of worker/index.ts to tell the bucket and KV operations a push, a
// pull or a tick makes. Measurement, not a stand-in: every call goes to the real binding.
// GET /__bench/ops answers the counts since the last POST /__bench/ops (which resets them).
import '../worker/jitless.ts';
import config from 'snappy:worker-config';
import { createWorkerApp } from '../worker/app.ts';
import type { Env, ExecCtx } from '../worker/env.ts';

const app = createWorkerApp(config);

/** R2's billing classes (Cloudflare R2 pricing): A mutates or lists, B reads. */
const R2_CLASS_A = new Set(['put', 'list', 'delete', 'createMultipartUpload', 'resumeMultipartUpload']);
const R2_CLASS_B = new Set(['get', 'head']);
const KV_WRITES = new Set(['put', 'delete']);

type Counts = Record<string, number>;
let counts: Counts = {};
const add = (k: string) => {
  counts[k] = (counts[k] ?? 0) + 1;
};

function counted<T extends object>(binding: T, name: string, classOf: (op: string) => string | undefined): T {
  return new Proxy(binding, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        add(`${name}.${prop}`);
        const c = classOf(prop);
        if (c) add(c);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const wrapped = new WeakMap<object, Env>();
function countedEnv(env: Env): Env {
  let w = wrapped.get(env);
  if (!w) {
    w = {
      ...env,
      ...(env.SNAPPY_BUCKET ? { SNAPPY_BUCKET: counted(env.SNAPPY_BUCKET, 'r2', (op) => (R2_CLASS_A.has(op) ? 'r2.classA' : R2_CLASS_B.has(op) ? 'r2.classB' : undefined)) } : {}),
      ...(env.SNAPPY_KV ? { SNAPPY_KV: counted(env.SNAPPY_KV, 'kv', (op) => (KV_WRITES.has(op) ? 'kv.writes' : op === 'list' ? 'kv.lists' : op === 'get' || op === 'getWithMetadata' ? 'kv.reads' : undefined)) } : {}),
    };
    wrapped.set(env, w);
  }
  return w;
}

export default {
  async fetch(req: Request, env: Env, ctx: ExecCtx): Promise<Response> {
    if (new URL(req.url).pathname === '/__bench/ops') {
      const body = JSON.stringify(counts);
      if (req.method === 'POST') counts = {};
      return new Response(body, { headers: { 'content-type': 'application/json' } });
    }
    return app.fetch(req, countedEnv(env), ctx);
  },
  scheduled(event: { cron?: string; scheduledTime?: number }, env: Env, ctx: ExecCtx): Promise<void> {
    return app.scheduled(event, countedEnv(env), ctx);
  },
};
