#!/usr/bin/env node
// Bundles the Worker (worker/index.ts) into one ES module for workerd: `npm run build`.
// The config is bundled in at build time (workerd cannot read files or import at run time):
// --config FILE (else SNAPPY_CONFIG, else ./snappy.config.ts|.mts|.js|.mjs if present, else {}).
// Usage: node worker/build.mjs [--config FILE] [--outfile dist/worker.js] [--minify]
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG_NAMES = ['snappy.config.ts', 'snappy.config.mts', 'snappy.config.js', 'snappy.config.mjs'];
const S3_ADAPTER = path.join(ROOT, 'adapters', 's3-blob-store.ts');

/** The config file bundled into the Worker, or undefined for the empty config. */
export function findConfig(explicit, cwd = process.cwd()) {
  if (explicit) {
    const f = path.resolve(cwd, explicit);
    if (!existsSync(f)) throw new Error(`worker build: config file ${f} does not exist`);
    return f;
  }
  for (const n of CONFIG_NAMES) if (existsSync(path.join(cwd, n))) return path.join(cwd, n);
  return undefined;
}

/** esbuild plugin: the virtual config module, the S3 adapter (or a stub) and the AWS SDK's XML parser fix. */
function snappyWorkerPlugin(configFile) {
  return {
    name: 'snappy-worker',
    setup(build) {
      build.onResolve({ filter: /^snappy:worker-config$/ }, () => (configFile ? { path: configFile } : { path: 'empty-config', namespace: 'snappy' }));
      build.onLoad({ filter: /^empty-config$/, namespace: 'snappy' }, () => ({ contents: 'export default {};', loader: 'js' }));
      // Without the S3 adapter in the tree the Worker still builds; selecting S3 then fails clearly.
      build.onResolve({ filter: /^snappy:s3-blob-store$/ }, () => (existsSync(S3_ADAPTER) ? { path: S3_ADAPTER } : { path: 's3-stub', namespace: 'snappy' }));
      build.onLoad({ filter: /^s3-stub$/, namespace: 'snappy' }, () => ({
        contents: 'export class S3BlobStore { constructor() { throw new Error("this Worker was built without adapters/s3-blob-store.ts"); } }',
        loader: 'js',
      }));
      // The SDK's browser XML parser needs DOMParser, which workerd lacks; its Node one is plain JS.
      build.onResolve({ filter: /\/xml-parser(\.browser)?(\.js)?$/ }, (args) => {
        if (!args.importer.includes(`${path.sep}@aws-sdk${path.sep}xml-builder${path.sep}`)) return undefined;
        return { path: path.join(path.dirname(args.importer), 'xml-parser.js') };
      });
    },
  };
}

/** Builds the Worker bundle; returns the output file. */
export async function buildWorker({ config, outfile = path.join(ROOT, 'dist', 'worker.js'), minify = false, cwd = process.cwd() } = {}) {
  const configFile = findConfig(config ?? process.env.SNAPPY_CONFIG, cwd);
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'worker', 'index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    target: 'es2022',
    minify,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['cloudflare:*'],
    plugins: [snappyWorkerPlugin(configFile)],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return { outfile, configFile };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    const t0 = Date.now();
    const { outfile, configFile } = await buildWorker({ config: opt('--config'), outfile: opt('--outfile') ? path.resolve(opt('--outfile')) : undefined, minify: args.includes('--minify') });
    process.stdout.write(`built ${path.relative(process.cwd(), outfile)} (config: ${configFile ? path.relative(process.cwd(), configFile) : 'none'}) in ${Date.now() - t0} ms\n`);
  } catch (err) {
    process.stderr.write(`worker build failed: ${err.message}\n`);
    process.exitCode = 1;
  }
}
