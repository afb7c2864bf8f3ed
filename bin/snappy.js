#!/usr/bin/env node
// The CLI entry. `--version` is answered here, before anything else loads, so it costs
// almost nothing; so is `--help` off a terminal, from the text the build saved. Every other
// command runs the built CLI in dist/ when it is there and, in a checkout, no source it was
// built from is newer (dist/build.json lists them); otherwise the TypeScript sources, through
// tsx. So a checkout runs without a build and never runs a stale one, and the installed
// package (which always has dist/) starts without compiling anything.
import { readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const root = new URL('../', import.meta.url);

/**
 * Whether to run dist/: always in an installed package (npm gives every file the time it was
 * unpacked, so times say nothing there); in a checkout, when no source it was built from is
 * newer than the build.
 */
function distIsFresh() {
  if (process.env.SNAPPY_FROM_SOURCES === '1') return false;
  if (/[\\/]node_modules[\\/]/.test(decodeURIComponent(root.pathname))) return statOk(new URL('dist/cli.js', root));
  let built;
  let inputs;
  try {
    built = statSync(new URL('dist/cli.js', root)).mtimeMs;
    inputs = JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8')).inputs;
  } catch {
    return false;
  }
  // Plain paths, not URLs: this runs on every start in a checkout, for each of some 170 files.
  const base = fileURLToPath(root);
  for (const file of inputs) {
    // A file deleted since: whatever imported it changed too.
    const st = statSync(base + file, { throwIfNoEntry: false });
    if (st && st.mtimeMs > built) return false;
  }
  return true;
}

function statOk(url) {
  try {
    return statSync(url).isFile();
  } catch {
    return false;
  }
}

if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else if (args.length === 1 && (args[0] === '--help' || args[0] === '-h') && !process.stdout.isTTY && distIsFresh()) {
  // Off a terminal the help is always the same text: the build saved it (scripts/build.mjs).
  process.stdout.write(readFileSync(new URL('dist/help-100.txt', root)));
} else {
  // Node 22.1+ keeps the compiled code of the modules it loads on disk for the next run.
  module.enableCompileCache?.();
  let cli;
  if (distIsFresh()) cli = await import('../dist/cli.js');
  else {
    await import('../cli/from-sources.mjs');
    cli = await import('../cli/main.ts');
  }
  if (process.env.SNAPPY_TEST_PROGRESS) await cli.listenForTests(process.env);
  process.exitCode = await cli.main(args);
}
