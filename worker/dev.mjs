#!/usr/bin/env node
// `npm run worker:dev`: builds the Worker and runs it in local workerd (miniflare) on
// http://127.0.0.1:8787 with its minute cron, KV and R2 kept in .snappy-dev/.
// GET /cdn-cgi/handler/scheduled (the route `wrangler dev` has too) or /__scheduled fires the
// tick at once. Env: PORT, OPS_TOKEN / OPS_TOKENS (default: those in .dev.vars, else .dev.vars.example),
// SNAPPY_S3_BUCKET / SNAPPY_S3_ENDPOINT / SNAPPY_S3_PREFIX / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
// to use an S3 bucket (e.g. s3rver) instead of the local R2 bucket.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { buildWorker } from './build.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 8787);
const { outfile } = await buildWorker({});
const pass = ['SNAPPY_S3_BUCKET', 'SNAPPY_S3_ENDPOINT', 'SNAPPY_S3_PREFIX', 'SNAPPY_S3_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'SNAPPY_INGEST_MAX_BYTES', 'SNAPPY_INGEST_MAX_ROWS', 'SNAPPY_INGEST_MAX_REVS', 'SNAPPY_OBJECT_MAX_BYTES', 'SNAPPY_INGEST_WINDOW_MS', 'SNAPPY_V1_UNTIL'];
/** The ops tokens of a dotenv-style file (`wrangler dev` reads the same .dev.vars). */
function tokensIn(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const out = {};
  for (const name of ['OPS_TOKEN', 'OPS_TOKENS']) {
    const m = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)"?\\s*$`, 'm').exec(text);
    if (m?.[1]) out[name] = m[1];
  }
  return Object.keys(out).length ? out : undefined;
}
const fromEnv = process.env.OPS_TOKEN || process.env.OPS_TOKENS ? Object.fromEntries(['OPS_TOKEN', 'OPS_TOKENS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]])) : undefined;
const [tokenFrom, tokens] = fromEnv ? ['the environment', fromEnv] : tokensIn(path.join(ROOT, '.dev.vars')) ? ['.dev.vars', tokensIn(path.join(ROOT, '.dev.vars'))] : ['.dev.vars.example', tokensIn(path.join(ROOT, '.dev.vars.example')) ?? {}];
const bindings = { ...tokens };
for (const k of pass) if (process.env[k]) bindings[k] = process.env[k];
const persist = path.join(ROOT, '.snappy-dev');
const mf = new Miniflare({
  modules: true,
  scriptPath: outfile,
  modulesRoot: path.dirname(outfile),
  compatibilityDate: '2026-04-26',
  kvNamespaces: ['SNAPPY_KV'],
  r2Buckets: ['SNAPPY_BUCKET'],
  kvPersist: path.join(persist, 'kv'),
  r2Persist: path.join(persist, 'r2'),
  bindings,
});
await mf.ready;
const tick = async () => {
  const r = await (await mf.getWorker()).scheduled({ cron: '* * * * *' });
  process.stdout.write(`${new Date().toISOString()} tick: ${r.outcome}\n`);
  return r;
};
// A front door on a fixed port: /__scheduled runs the tick, everything else goes to the Worker.
const server = http.createServer(async (req, res) => {
  try {
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    if (route === '/__scheduled' || route === '/cdn-cgi/handler/scheduled') {
      const r = await tick();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r));
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const out = await mf.dispatchFetch(`http://127.0.0.1:${port}${req.url}`, { method: req.method, headers: req.headers, ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}) });
    res.writeHead(out.status, Object.fromEntries(out.headers));
    res.end(Buffer.from(await out.arrayBuffer()));
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`snappy Worker on http://127.0.0.1:${port} (ops tokens from ${tokenFrom}); cron every minute; state in ${persist}\n`));
const timer = setInterval(() => tick().catch((e) => process.stderr.write(`tick failed: ${e.message}\n`)), 60_000);
const stop = async () => {
  clearInterval(timer);
  server.close();
  await mf.dispose();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
