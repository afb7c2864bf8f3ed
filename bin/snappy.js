#!/usr/bin/env node
// The CLI entry. `--version` is answered here, before anything else loads, so it costs
// almost nothing; every other command registers tsx (snappy runs its TypeScript directly)
// and hands over to cli/main.ts, which imports each command's code only when it runs.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  if (process.env.SNAPPY_TEST_PROGRESS) (await import('../adapters/checkpoint-file.ts')).listenFromEnv(process.env);
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(args);
}
