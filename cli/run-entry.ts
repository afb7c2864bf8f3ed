import { runCommand } from './commands/run.ts';
import { reportError } from './output.ts';
import { plainRun } from './run-route.ts';

/**
 * Runs `args` when they are a plain `snappy run <task..>` (cli/run-route.ts), resolving to the
 * exit code; undefined for anything else, which is the parser's (cli/main.ts). The built
 * package also makes this its own file, dist/chunks/run.js, holding everything a plain run
 * loads in one module: the cron job's `run push --auto` so starts on a few files, not dozens.
 */
export async function runPlain(args: readonly string[]): Promise<number | undefined> {
  const run = plainRun(args);
  if (!run) return undefined;
  try {
    await runCommand.handler(run as Parameters<typeof runCommand.handler>[0]);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err, args.includes('--json'));
  }
}

/** Tests only (SNAPPY_TEST_PROGRESS): reports this process's checkpoints to a file. */
export async function listenForTests(env: NodeJS.ProcessEnv): Promise<void> {
  (await import('../adapters/checkpoint-file.ts')).listenFromEnv(env);
}
