#!/usr/bin/env node
// The CLI entry. `--version` is answered here, before anything else loads, so it costs
// almost nothing; so is `--help` off a terminal, from the text the build saved. Every other
// command runs the built CLI in dist/ when it is there and, in a checkout, no source it was
// built from is newer (dist/build.json lists them); otherwise the TypeScript sources, through
// tsx. So a checkout runs without a build and never runs a stale one, and the installed
// package (which always has dist/) starts without compiling anything.
// CommonJS, though the package is ES modules: an ES module entry first starts Node's ES module
// loader, a few ms that `--version` and `--help` need not pay (the rest import ES modules).
'use strict';
const { readFileSync, statSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const args = process.argv.slice(2);
const root = path.join(__dirname, '..');

/**
 * Whether to run dist/: always in an installed package (npm gives every file the time it was
 * unpacked, so times say nothing there); in a checkout, when no source it was built from is
 * newer than the build.
 */
function distIsFresh() {
  if (process.env.SNAPPY_FROM_SOURCES === '1') return false;
  if (/[\\/]node_modules[\\/]/.test(root)) return statOk(path.join(root, 'dist', 'cli.js'));
  let built;
  let inputs;
  try {
    built = statSync(path.join(root, 'dist', 'cli.js')).mtimeMs;
    inputs = JSON.parse(readFileSync(path.join(root, 'dist', 'build.json'), 'utf8')).inputs;
  } catch {
    return false;
  }
  // Plain string paths: this runs on every start in a checkout, for each of some 170 files.
  const base = root + path.sep;
  for (const file of inputs) {
    // A file deleted since: whatever imported it changed too.
    const st = statSync(base + file, { throwIfNoEntry: false });
    if (st && st.mtimeMs > built) return false;
  }
  return true;
}

function statOk(file) {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** An ES module of this package, by its path from the package's root. */
function load(rel) {
  return import(pathToFileURL(path.join(root, rel)).href);
}

async function main() {
  // Node 22.1+ keeps the compiled code of the modules it loads on disk for the next run.
  require('node:module').enableCompileCache?.();
  const built = distIsFresh();
  if (!built) await load('cli/from-sources.mjs');
  const cli = () => load(built ? 'dist/cli.js' : 'cli/main.ts');
  // `snappy run <task..>` (the cron job) from one module of its own when its arguments are
  // plain (cli/run-entry.ts); anything else, or a run that is not plain, through the parser.
  const run = args[0] === 'run' ? await load(built ? 'dist/chunks/run.js' : 'cli/run-entry.ts') : undefined;
  if (process.env.SNAPPY_TEST_PROGRESS) await (run ?? (await cli())).listenForTests(process.env);
  const code = run ? await run.runPlain(args) : undefined;
  process.exitCode = code ?? (await (await cli()).main(args));
}

if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else if (args.length === 1 && (args[0] === '--help' || args[0] === '-h') && !process.stdout.isTTY && distIsFresh()) {
  // Off a terminal the help is always the same text: the build saved it (scripts/build.mjs).
  process.stdout.write(readFileSync(path.join(root, 'dist', 'help-100.txt')));
} else {
  main().catch((err) => {
    // Only what the CLI itself could not report (it words and reports its own errors).
    process.stderr.write(`snappy: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
}
