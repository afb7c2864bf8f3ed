#!/usr/bin/env node
// `npm run build`: the package as it is published, in dist/.
//   dist/index.js       the library (`import ... from 'snappy-os'`), ESM
//   dist/cli.js         the CLI bin/snappy.cjs runs; it shares dist/chunks/ with the library, so
//                       a config or plugin importing 'snappy-os' gets the CLI's own instances
//   dist/chunks/run.js  a plain `snappy run <task..>` (the cron job) in one module
//   dist/chunks/*.cjs   zod, picomatch and yaml, each loaded only when a run first uses it
//   dist/types/         declarations (.d.ts + maps), the layout of the sources
//   dist/build.json     the source files the JS was built from, for bin/snappy.cjs's freshness check
//   dist/help-100.txt   `snappy --help` as printed off a terminal
// JS is bundled by esbuild, most dependencies included: one file per entry and shared chunks
// start far faster than ~90 TypeScript modules and a few hundred of their dependencies'.
// Commands keep their lazy imports as chunks of their own. Source maps everywhere.
//
// Usage: node scripts/build.mjs [--js-only]   (--js-only skips the declarations)
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const jsOnly = process.argv.includes('--js-only');
const t0 = Date.now();

// The build is written to a folder beside dist/ (the same file system) and renamed into place
// when complete: a CLI run or test starting meanwhile finds the old build whole, or the new
// one, never half of either (between the two renames, no dist/ at all: bin/snappy.cjs then runs
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
// Node's built-in modules are taken with `process.getBuiltinModule` rather than imported: an
// `import` of one makes its ES module face, which reads every export, lazy ones included
// (node:fs's streams, node:crypto's WebCrypto), some 4 ms of every start for the few used here.
// esbuild writes every such import as one line at the top of its output; each becomes a const.
function builtinsByGetter(text) {
  // Line for line, so the source maps still hold.
  const named = (names) => names.replace(/\b(\w+) as (\w+)\b/g, '$1: $2');
  return text.replace(/^import (?:(\w+)|\* as (\w+)|(\w+), \{([^}]*)\}|\{([^}]*)\}) from "(node:[a-z_/]+)";$/gm, (line, def, ns, def2, names2, names, id) => {
    const get = `process.getBuiltinModule(${JSON.stringify(id)})`;
    if (def || ns) return `const ${def || ns} = ${get};`;
    if (def2) return `const ${def2} = ${get}, {${named(names2)}} = ${def2};`;
    return `const {${named(names)}} = ${get};`;
  });
}
// The package ships the sources the maps point at: no sourcesContent.
const common = { absWorkingDir: ROOT, bundle: true, format: 'esm', platform: 'node', target: 'node20', external: EXTERNAL, sourcemap: true, sourcesContent: false, metafile: true, logLevel: 'warning' };
// Bundled CommonJS (tapable) requires Node's built-ins: give the ES modules a require.
// Only where some code of an output uses it (the rest are given an empty line, so the maps
// hold): each costs a module object and a path lookup at start.
const BANNER = "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);";
const banner = { js: BANNER };

// zod, picomatch and yaml are loaded when first used: each is a CommonJS module of its own in
// dist/chunks/ (so it can be loaded synchronously), and what our code imports in its place is
// a stand-in that loads it (cli/lazy-*.ts). zod's is in the core, so it is also the `z` the
// library entry gives configs and plugins. A run whose schemas are all remembered
// (core/lazy-schema.ts, cli/parse-memo.ts), whose globs are plain and that reads no page (a
// no-op cron run) loads none of them.
await esbuild.build({ ...common, format: 'cjs', stdin: { contents: "export { z } from 'zod';\n", resolveDir: ROOT, sourcefile: '<zod>' }, outfile: path.join(OUT, 'chunks', 'zod.cjs'), plugins: [zodEnglishOnly] });
await esbuild.build({ ...common, format: 'cjs', entryPoints: ['node_modules/picomatch/posix.js'], outfile: path.join(OUT, 'chunks', 'picomatch.cjs') });
await esbuild.build({ ...common, format: 'cjs', entryPoints: ['node_modules/yaml/dist/index.js'], outfile: path.join(OUT, 'chunks', 'yaml.cjs') });
const STAND_INS = { zod: 'lazy-zod.ts', 'picomatch/posix.js': 'lazy-picomatch.ts', yaml: 'lazy-yaml.ts' };
const lazyLibraries = (...names) => ({
  name: 'lazy-libraries',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${names.map((n) => n.replace(/[./]/g, '\\$&')).join('|')})$`) }, (args) => ({ path: path.join(ROOT, 'cli', STAND_INS[args.path]) }));
  },
});
const core = await esbuild.build({
  ...common,
  stdin: {
    contents: `${coreFiles.map((f) => `export * from './core/${f}';`).join('\n')}\nexport { z } from 'zod';\nexport { ${HOOKS.join(', ')} } from 'tapable';\n`,
    resolveDir: ROOT,
    sourcefile: CORE_ENTRY,
    loader: 'ts',
  },
  outfile: CORE_FILE,
  plugins: [lazyLibraries('zod')],
  banner,
});
const coreExports = new Set(Object.values(core.metafile.outputs).flatMap((o) => o.exports ?? []));
// The library entry re-exports what core/index.ts exports, by name, from the core.
const publicApi = await esbuild.build({ ...common, entryPoints: ['core/index.ts'], write: false, outdir: OUT, sourcemap: false, plugins: [zodEnglishOnly] });
const libraryNames = Object.values(publicApi.metafile.outputs).flatMap((o) => o.exports ?? []);
for (const name of libraryNames) if (!coreExports.has(name)) throw new Error(`build: core/index.ts exports ${name}, which dist/chunks/core.js does not`);
writeFileSync(path.join(OUT, 'index.js'), `// core/index.ts: the library, all of it in the core its CLI shares\nexport { ${libraryNames.join(', ')} } from './chunks/core.js';\n//# sourceMappingURL=index.js.map\n`);
writeFileSync(path.join(OUT, 'index.js.map'), `${JSON.stringify({ version: 3, sources: ['../core/index.ts'], names: [], mappings: '' })}\n`);
// zod's JIT is turned off where zod is loaded (cli/lazy-zod.ts), not by cli/jitless.ts, which
// would load it.
const noJitlessModule = {
  name: 'no-jitless-module',
  setup(build) {
    build.onResolve({ filter: /^\.\/jitless\.ts$/ }, (args) => (args.importer.startsWith(path.join(ROOT, 'cli') + path.sep) ? { path: 'jitless', namespace: 'empty' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: '' }));
  },
};
// The build's identity, for what the CLI caches per build (cli/parse-memo.ts): every source file
// and the locked dependencies.
const buildId = (() => {
  const hash = createHash('sha256');
  for (const dir of ['adapters', 'cli', 'core', 'domain', 'lifecycle', 'plugins', 'worker']) {
    for (const file of [...walk(path.join(ROOT, dir))].sort()) hash.update(`${path.relative(ROOT, file)}\0`).update(readFileSync(file));
  }
  for (const file of ['package.json', 'package-lock.json']) if (existsSync(path.join(ROOT, file))) hash.update(readFileSync(path.join(ROOT, file)));
  return hash.digest('hex').slice(0, 16);
})();
const result = await esbuild.build({
  ...common,
  entryPoints: { cli: 'cli/main.ts' },
  outdir: OUT,
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  plugins: [toCore, noJitlessModule, lazyLibraries('picomatch/posix.js', 'yaml')],
  define: { __SNAPPY_BUILD__: JSON.stringify(buildId) },
  banner,
});
// A plain `snappy run <task..>` (the cron job) loads dist/chunks/run.js (cli/run-entry.ts): all
// it needs in one module, against some forty chunks through dist/cli.js, which is most of the
// difference between a no-op `push --auto` and starting Node at all. It shares the core (and
// zod and picomatch, loaded when first used) with every chunk. What it loads only in some runs
// and would weigh it down stays in the chunks above: the S3 adapter (which imports the AWS
// SDK) and cosmiconfig (configs that are not plain) are imported from there. Every module
// those load beside it has its own instance there: they are pure.
const chunkOfEntry = new Map(Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint).map(([out, o]) => [o.entryPoint, `./${path.basename(out)}`]));
const COSMICONFIG = Object.keys(result.metafile.inputs).find((i) => /node_modules\/cosmiconfig\/dist\/index\.js$/.test(i));
const fromChunks = {
  name: 'from-chunks',
  setup(build) {
    build.onResolve({ filter: /s3-blob-store\.ts$|^cosmiconfig$/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const entry = args.path === 'cosmiconfig' ? COSMICONFIG : 'adapters/s3-blob-store.ts';
      const chunk = chunkOfEntry.get(entry);
      if (!chunk) throw new Error(`build: no chunk of the CLI is the entry ${entry}`);
      return { path: chunk, external: true };
    });
  },
};
// In one module, an import of a built-in would load it on every run, however deep in code that
// run never reaches (node:https for the Worker client, child_process for the regen agent):
// esbuild hoists imports to the top. As CommonJS modules of one line, they load where used.
// Each exports an object whose prototype is the built-in and which has no properties of its
// own: esbuild's interop copies every own property of a CommonJS module (a getter for each of
// node:fs's and node:crypto's hundred exports), while names reached through the prototype
// cost nothing until used.
const builtinsWhereUsed = {
  name: 'builtins-where-used',
  setup(build) {
    build.onResolve({ filter: /^node:[a-z_/]+$/ }, (args) => ({ path: args.path, namespace: 'node-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = Object.create(process.getBuiltinModule(${JSON.stringify(args.path)}));\n`, loader: 'js' }));
  },
};
const runBuild = await esbuild.build({
  ...common,
  entryPoints: ['cli/run-entry.ts'],
  outfile: path.join(OUT, 'chunks', 'run.js'),
  plugins: [toCore, noJitlessModule, lazyLibraries('picomatch/posix.js', 'yaml'), fromChunks, builtinsWhereUsed],
  define: { __SNAPPY_BUILD__: JSON.stringify(buildId) },
  banner,
  // Without spaces and with shorter syntax (names kept; the map leads back to the sources): a
  // third less to read and hash every run, some 2 ms of a no-op push on Node 24.
  minifyWhitespace: true,
  minifySyntax: true,
});
for (const [out, o] of Object.entries(runBuild.metafile.outputs)) {
  if (o.imports.some((i) => i.path.startsWith('@aws-sdk') && i.kind === 'import-statement')) throw new Error(`build: ${out} would load the AWS SDK on every run`);
}

// Each output imports the core by its own relative path; every name it imports must be there
// (`export *` drops a name two core files both export). Built-ins by getter, and the banner
// only where `require` is used (see above).
for (const out of [...Object.keys(result.metafile.outputs), ...Object.keys(runBuild.metafile.outputs), ...Object.keys(core.metafile.outputs)].filter((o) => o.endsWith('.js'))) {
  const file = path.join(ROOT, out);
  const text = readFileSync(file, 'utf8');
  let fixed = text;
  if (text.includes(CORE)) {
    for (const m of text.matchAll(new RegExp(`(?:import|export) ?\\{([^}]*)\\} ?from ?"${CORE}"`, 'g'))) {
      for (const spec of m[1].split(',').map((x) => x.trim().split(/\s+as\s+/)[0]).filter(Boolean)) {
        if (!coreExports.has(spec)) throw new Error(`build: ${out} imports ${spec}, which dist/chunks/core.js does not export`);
      }
    }
    let rel = path.relative(path.dirname(file), CORE_FILE).split(path.sep).join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    fixed = fixed.replaceAll(`"${CORE}"`, JSON.stringify(rel));
  }
  fixed = builtinsByGetter(fixed);
  if (/^import\b[^;]*?"node:/m.test(fixed)) throw new Error(`build: ${out} imports a built-in in a form builtinsByGetter does not know`);
  if (fixed.startsWith(`${BANNER}\n`) && !/\brequire\b/.test(fixed.slice(BANNER.length))) fixed = fixed.slice(BANNER.length);
  if (fixed !== text) writeFileSync(file, fixed);
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

// `snappy --help` off a terminal (width 100) is the same text every time: bin/snappy.cjs prints
// it from here instead of loading the argument parser, which spends most of its start-up
// measuring the widths of the help text's cells.
const help = spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(OUT, 'cli.js')).href)}); process.exitCode = await main(['--help']);`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (help.status !== 0 || !help.stdout.includes('Usage: snappy')) throw new Error(`build: the built CLI's --help failed (exit ${help.status})`);
writeFileSync(path.join(OUT, 'help-100.txt'), help.stdout);

const inputs = new Set([core, publicApi, result, runBuild, worker].flatMap((r) => Object.keys(r.metafile.inputs)).filter((f) => !f.includes('node_modules') && f !== CORE_ENTRY));
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
