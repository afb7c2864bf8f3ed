#!/usr/bin/env node
// Bundles the Worker (worker/index.ts) into one ES module for workerd: `npm run build`.
// The config is bundled in at build time (workerd cannot read files or import at run time):
// --config FILE (else SNAPPY_CONFIG, else ./snappy.config.ts|.mts|.js|.mjs if present, else {}).
// The config is also evaluated here, in Node, to learn where each of its plugins runs: those
// named by module specifier that run in the Worker are imported statically into the bundle,
// Node-only ones are left out with a note, and one that says it runs in the Worker but does
// not bundle for workerd fails the build, naming it.
// Usage: node worker/build.mjs [--config FILE] [--outfile dist/worker.js] [--minify]
import { execFile } from 'node:child_process';
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

/**
 * Where the config's plugins go (worker/plugin-plan.ts), worked out in a child process: the
 * config and its plugins are evaluated fresh, as the CLI would, whatever this process has
 * imported before.
 */
function planPlugins(configFile) {
  const fromSources = pathToFileURL(path.join(ROOT, 'cli', 'from-sources.mjs')).href;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', fromSources, path.join(ROOT, 'worker', 'plugin-plan.ts'), configFile], { cwd: path.dirname(configFile), maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cannot evaluate ${configFile} for the Worker: ${String(stderr).trim() || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/** The virtual module of the plugins the Worker imports, keyed by their index in `plugins`. */
function pluginsModule(imports) {
  const lines = imports.map((p, k) => `import * as p${k} from ${JSON.stringify(p.specifier)};`);
  lines.push(`export default { ${imports.map((p, k) => `${p.index}: p${k}`).join(', ')} };`);
  return lines.join('\n');
}

const BUNDLE_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  target: 'es2022',
  sourcemap: false,
  legalComments: 'none',
  external: ['cloudflare:*'],
  define: { 'process.env.NODE_ENV': '"production"' },
};

function firstError(err) {
  const e = err?.errors?.[0];
  if (!e) return String(err?.message ?? err).split('\n')[0];
  return `${e.text}${e.location ? ` (${e.location.file}:${e.location.line}:${e.location.column})` : ''}`;
}

/** After a failed bundle: bundles each Worker plugin alone, to name the ones that cannot go in. */
async function culprits(plan, configFile) {
  const out = [];
  for (const p of plan.imports) {
    try {
      await esbuild.build({ ...BUNDLE_OPTIONS, stdin: { contents: `export * from ${JSON.stringify(p.specifier)};`, resolveDir: plan.resolveDir, loader: 'js' }, write: false, logLevel: 'silent', plugins: [snappyWorkerPlugin(configFile, { imports: [] })] });
    } catch (err) {
      out.push(`plugin "${p.name}" (plugins[${p.index}], ${JSON.stringify(p.specifier)}) says it runs in the Worker (runtimes) but does not bundle for workerd: ${firstError(err)}`);
    }
  }
  return out;
}

/** esbuild plugin: the virtual config and plugin modules, the S3 adapter (or a stub) and the AWS SDK's XML parser fix. */
function snappyWorkerPlugin(configFile, plan) {
  return {
    name: 'snappy-worker',
    setup(build) {
      // The config and plugins import the package by name: the Worker is built from these sources.
      build.onResolve({ filter: /^snappy-os$/ }, () => ({ path: path.join(ROOT, 'core', 'index.ts') }));
      build.onResolve({ filter: /^snappy:worker-config$/ }, () => (configFile ? { path: configFile } : { path: 'empty-config', namespace: 'snappy' }));
      build.onLoad({ filter: /^empty-config$/, namespace: 'snappy' }, () => ({ contents: 'export default {};', loader: 'js' }));
      build.onResolve({ filter: /^snappy:worker-plugins$/ }, () => ({ path: 'worker-plugins', namespace: 'snappy' }));
      build.onLoad({ filter: /^worker-plugins$/, namespace: 'snappy' }, () => ({ contents: pluginsModule(plan.imports), loader: 'js', resolveDir: plan.resolveDir ?? ROOT }));
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

/**
 * Builds the Worker bundle (`entry`: another module around the Worker app, as the bench's
 * request-counting one). Returns the output file, the config bundled, the plugins the
 * Worker imports by specifier and the notes on plugins left out (Node only).
 */
export async function buildWorker({ config, outfile = path.join(ROOT, 'dist', 'worker.js'), minify = false, cwd = process.cwd(), entry = path.join(ROOT, 'worker', 'index.ts') } = {}) {
  const configFile = findConfig(config ?? process.env.SNAPPY_CONFIG, cwd);
  const plan = configFile ? await planPlugins(configFile) : { imports: [], objects: [], notes: [], resolveDir: ROOT };
  try {
    await esbuild.build({
      ...BUNDLE_OPTIONS,
      entryPoints: [entry],
      outfile,
      minify,
      logLevel: 'silent',
      plugins: [snappyWorkerPlugin(configFile, plan)],
    });
  } catch (err) {
    const named = await culprits(plan, configFile);
    if (named.length) throw new Error(named.join('\n'));
    const first = firstError(err);
    // Most often a Node-only plugin object the config imports: the config module goes in whole.
    const hint = configFile && /Could not resolve/.test(first) ? ` (the config ${configFile} is bundled whole, with every plugin object it imports: name a Node-only plugin by package name or path instead, so the Worker can leave it out)` : '';
    throw new Error(`${first}${hint}`);
  }
  return { outfile, configFile, plugins: [...plan.imports.map((p) => p.name), ...plan.objects], notes: plan.notes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    const t0 = Date.now();
    const { outfile, configFile, plugins, notes } = await buildWorker({ config: opt('--config'), outfile: opt('--outfile') ? path.resolve(opt('--outfile')) : undefined, minify: args.includes('--minify') });
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
    process.stdout.write(`built ${path.relative(process.cwd(), outfile)} (config: ${configFile ? path.relative(process.cwd(), configFile) : 'none'}${plugins.length ? `; plugins: ${plugins.join(', ')}` : ''}) in ${Date.now() - t0} ms\n`);
  } catch (err) {
    process.stderr.write(`worker build failed: ${err.message}\n`);
    process.exitCode = 1;
  }
}
