#!/usr/bin/env node
// `npm run build`: the package as it is published, in dist/.
//   dist/index.js       the library (`import ... from 'snappy-os'`), ESM
//   dist/cli.js         the CLI bin/snappy.js runs; it shares dist/chunks/ with the library, so
//                       a config or plugin importing 'snappy-os' gets the CLI's own instances
//   dist/types/         declarations (.d.ts + maps), the layout of the sources
//   dist/build.json     the source files the JS was built from, for bin/snappy.js's freshness check
//   dist/help-100.txt   `snappy --help` as printed off a terminal
// JS is bundled by esbuild, most dependencies included: one file per entry and shared chunks
// start far faster than ~90 TypeScript modules and a few hundred of their dependencies'.
// Commands keep their lazy imports as chunks of their own. Source maps everywhere.
//
// Usage: node scripts/build.mjs [--js-only]   (--js-only skips the declarations)
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const jsOnly = process.argv.includes('--js-only');
const t0 = Date.now();

// The build is written to a folder beside dist/ (the same file system) and renamed into place
// when complete: a CLI run or test starting meanwhile finds the old build whole, or the new
// one, never half of either (between the two renames, no dist/ at all: bin/snappy.js then runs
// the sources).
const OUT = path.join(ROOT, `.dist-build-${process.pid}`);
const OLD = path.join(ROOT, `.dist-old-${process.pid}`);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT);
process.on('exit', () => rmSync(OUT, { recursive: true, force: true }));

// What this build does not make is kept as it was: the Worker bundle (`npm run build:worker`)
// and, with --js-only, the declarations.
const MADE_HERE = new Set(['index.js', 'index.js.map', 'cli.js', 'cli.js.map', 'chunks', 'build.json', 'help-100.txt', ...(jsOnly ? [] : ['types'])]);
if (existsSync(DIST)) {
  for (const name of readdirSync(DIST)) if (!MADE_HERE.has(name)) cpSync(path.join(DIST, name), path.join(OUT, name), { recursive: true });
}

// Dependencies are bundled in (zod alone is some 230 modules to resolve and load), except
// those loaded only when needed: the AWS SDK (s3:// remotes), tsx and esbuild (compiling
// TypeScript), and typescript, which cosmiconfig would require for a loader we do not use.
const EXTERNAL = ['@aws-sdk/*', 'tsx', 'tsx/*', 'esbuild', 'typescript'];

// zod's `z.locales` holds its error messages in some 50 languages: half of zod's code, and half
// of what loading it costs every run. snappy's messages are English, so the built package keeps
// `z.locales.en` only (README "Package and start-up"); a plugin wanting another language
// imports zod's own locales.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: path.join(path.dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-english-only' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};\n`,
      resolveDir: path.dirname(args.path),
    }));
  },
};

// Our core, zod and tapable are one module, dist/chunks/core.js, that the library entry and
// every CLI chunk import: one instance of each for the CLI and for the configs and plugins it
// loads, and, on every run, one file for what was a dozen chunks of it (esbuild makes a chunk per
// set of entries sharing a module). Imports of these from outside core/ are pointed at it; core's
// own imports (domain/names.ts, pure) are bundled into it.
const CORE = '__snappy_core__';
const CORE_FILE = path.join(OUT, 'chunks', 'core.js');
/** The name of the core's entry, made here (not a file): every core/*.ts, zod's z and tapable's hooks. */
const CORE_ENTRY = '<core>';
const coreDir = path.join(ROOT, 'core') + path.sep;
const coreFiles = readdirSync(path.join(ROOT, 'core')).filter((f) => f.endsWith('.ts') && f !== 'index.ts').sort();
const HOOKS = ['AsyncParallelHook', 'AsyncSeriesBailHook', 'AsyncSeriesHook', 'AsyncSeriesWaterfallHook', 'SyncHook', 'SyncWaterfallHook'];
const toCore = {
  name: 'to-core',
  setup(build) {
    build.onResolve({ filter: /^(zod|tapable)$|core[\\/][a-z-]+\.ts$/ }, (args) => {
      if (args.importer.startsWith(coreDir) && !/^(zod|tapable)$/.test(args.path)) return undefined;
      if (/^(zod|tapable)$/.test(args.path) || path.resolve(args.resolveDir, args.path).startsWith(coreDir)) return { path: CORE, external: true };
      return undefined;
    });
  },
};
// The package ships the sources the maps point at: no sourcesContent.
const common = { absWorkingDir: ROOT, bundle: true, format: 'esm', platform: 'node', target: 'node20', external: EXTERNAL, sourcemap: true, sourcesContent: false, metafile: true, logLevel: 'warning' };
// Bundled CommonJS (tapable) requires Node's built-ins: give the ES modules a require.
const banner = { js: "import { createRequire as __snappyRequire } from 'node:module'; const require = __snappyRequire(import.meta.url);" };

const core = await esbuild.build({
  ...common,
  stdin: {
    contents: `${coreFiles.map((f) => `export * from './core/${f}';`).join('\n')}\nexport { z } from 'zod';\nexport { ${HOOKS.join(', ')} } from 'tapable';\n`,
    resolveDir: ROOT,
    sourcefile: CORE_ENTRY,
    loader: 'ts',
  },
  outfile: CORE_FILE,
  plugins: [zodEnglishOnly],
  banner,
});
const coreExports = new Set(Object.values(core.metafile.outputs).flatMap((o) => o.exports ?? []));
// The library entry re-exports what core/index.ts exports, by name, from the core.
const publicApi = await esbuild.build({ ...common, entryPoints: ['core/index.ts'], write: false, outdir: OUT, sourcemap: false, plugins: [zodEnglishOnly] });
const libraryNames = Object.values(publicApi.metafile.outputs).flatMap((o) => o.exports ?? []);
for (const name of libraryNames) if (!coreExports.has(name)) throw new Error(`build: core/index.ts exports ${name}, which dist/chunks/core.js does not`);
writeFileSync(path.join(OUT, 'index.js'), `// core/index.ts: the library, all of it in the core its CLI shares\nexport { ${libraryNames.join(', ')} } from './chunks/core.js';\n//# sourceMappingURL=index.js.map\n`);
writeFileSync(path.join(OUT, 'index.js.map'), `${JSON.stringify({ version: 3, sources: ['../core/index.ts'], names: [], mappings: '' })}\n`);
const result = await esbuild.build({
  ...common,
  entryPoints: { cli: 'cli/main.ts' },
  outdir: OUT,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  plugins: [toCore],
  banner,
});
// Each output imports the core by its own relative path; every name it imports must be there
// (`export *` drops a name two core files both export).
for (const out of Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js'))) {
  const file = path.join(ROOT, out);
  const text = readFileSync(file, 'utf8');
  if (!text.includes(CORE)) continue;
  for (const m of text.matchAll(new RegExp(`(?:import|export) \\{([^}]*)\\} from "${CORE}"`, 'g'))) {
    for (const spec of m[1].split(',').map((x) => x.trim().split(/\s+as\s+/)[0]).filter(Boolean)) {
      if (!coreExports.has(spec)) throw new Error(`build: ${out} imports ${spec}, which dist/chunks/core.js does not export`);
    }
  }
  let rel = path.relative(path.dirname(file), CORE_FILE).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  writeFileSync(file, text.replaceAll(`"${CORE}"`, JSON.stringify(rel)));
}

// The HMAC worker thread is started by URL (`new URL('./hmac-worker.js', import.meta.url)`):
// it is built on its own, into the folder of whichever output holds the pool.
const pool = Object.entries(result.metafile.outputs).find(([, o]) => Object.keys(o.inputs).some((i) => i.endsWith('plugins/aggregate/hmac-pool.ts')));
if (!pool) throw new Error('build: no output holds plugins/aggregate/hmac-pool.ts');
const worker = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: ['plugins/aggregate/hmac-worker.js'],
  outfile: path.join(ROOT, path.dirname(pool[0]), 'hmac-worker.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});

// `snappy --help` off a terminal (width 100) is the same text every time: bin/snappy.js prints
// it from here instead of loading the argument parser, which spends most of its start-up
// measuring the widths of the help text's cells.
const help = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(OUT, 'cli.js')).href)}); process.exitCode = await main(['--help']);`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (help.status !== 0 || !help.stdout.includes('Usage: snappy')) throw new Error(`build: the built CLI's --help failed (exit ${help.status})`);
writeFileSync(path.join(OUT, 'help-100.txt'), help.stdout);

const inputs = new Set([core, publicApi, result, worker].flatMap((r) => Object.keys(r.metafile.inputs)).filter((f) => !f.includes('node_modules') && f !== CORE_ENTRY));
writeFileSync(path.join(OUT, 'build.json'), `${JSON.stringify({ inputs: [...inputs].sort() }, null, 1)}\n`);

if (!jsOnly) {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(OUT, 'types')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build: tsc failed to write the declarations');
  // The sources import each other as `./x.ts`; in published declarations that must read `./x.js`
  // for a consumer's `module: node16` and `moduleResolution: bundler` alike.
  for (const file of walk(path.join(OUT, 'types'))) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const fixed = text.replace(/((?:from|import)\s*\(?\s*['"]\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1.js$2');
    if (fixed !== text) writeFileSync(file, fixed);
  }
  mkdirSync(path.join(OUT, 'types'), { recursive: true });
}

if (existsSync(DIST)) renameSync(DIST, OLD);
renameSync(OUT, DIST);
rmSync(OLD, { recursive: true, force: true });

// On stderr: npm runs this as `prepack`, and `npm pack --json` must keep stdout to its JSON.
console.error(`built dist/ (${Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js')).length + 3} JS files${jsOnly ? '' : ', declarations'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* walk(full);
    else yield full;
  }
}
