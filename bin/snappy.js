#!/usr/bin/env node
// The CLI entry. `--version` is answered here, before anything else loads, so it costs
// almost nothing; so is `--help` off a terminal, from the text the build saved. Every other
// command runs the built CLI in dist/ when it is there and, in a checkout, no source it was
// built from is newer (dist/build.json lists them); otherwise the TypeScript sources, through
// tsx. So a checkout runs without a build and never runs a stale one, and the installed
// package (which always has dist/) starts without compiling anything.
// Built-ins by getter, not import: an import makes the module's ES face, which reads every
// export, lazy ones included (node:fs's streams), a few ms of every start.
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');

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
  const built = distIsFresh();
  if (!built) await import('../cli/from-sources.mjs');
  const cli = () => (built ? import('../dist/cli.js') : import('../cli/main.ts'));
  // `snappy run <task..>` (the cron job) from one module of its own when its arguments are
  // plain (cli/run-entry.ts); anything else, or a run that is not plain, through the parser.
  const run = args[0] === 'run' ? await (built ? import('../dist/chunks/run.js') : import('../cli/run-entry.ts')) : undefined;
  if (process.env.SNAPPY_TEST_PROGRESS) await (run ?? (await cli())).listenForTests(process.env);
  const code = run ? await run.runPlain(args) : undefined;
  process.exitCode = code ?? (await (await cli()).main(args));
}

