import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { COMMANDS } from './commands/index.ts';
import { reportError } from './output.ts';

const EPILOG = `Environment:
  SNAPPY_MASTER_KEY   the tenant's secret; its SHA-256 names the tenant. Unset: no aggregate is made or shipped
  SNAPPY_MACHINE_ID   this machine's id, seen by the fleet in brief names (else config machineId, else a
                      pseudonym generated once and kept in <state>/.snappy/machine-id)
  SNAPPY_STATE        state dir (default ./state)
  SNAPPY_REMOTE       remote: file://DIR or s3://BUCKET[/PREFIX] (default: .snappy-remote/ beside the state dir)
  SNAPPY_CONFIG       config file (default: snappy.config.ts|.mts|.js|.mjs|.json or package.json "snappy" in the current folder)

Exit codes: 0 done, 1 failed (the message names the step or plugin), 2 usage or config error.
Docs: README.md`;

/** Runs the CLI on `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
  let usageError: SnappyError | undefined;
  const parser = yargs(args)
    .scriptName('snappy')
    .usage('snappy keeps a fleet\'s AI-agent skills improving without raw eval data leaving any machine.\n\nUsage: $0 <command> [options]')
    .option('state', { type: 'string', describe: 'state dir (SNAPPY_STATE; default ./state)', global: true })
    .option('remote', { type: 'string', describe: 'remote URL: file://DIR or s3://BUCKET[/PREFIX] (SNAPPY_REMOTE)', global: true })
    .option('config', { type: 'string', describe: 'config file (SNAPPY_CONFIG)', global: true })
    .option('json', { type: 'boolean', describe: 'print one JSON object on stdout and nothing else there', global: true })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'print only warnings and errors', global: true })
    .option('timings', { type: 'boolean', describe: 'print how long each plugin took on each hook (stderr)', global: true })
    .command(COMMANDS)
    .demandCommand(1, 'Name a command: run, eval, status, ... (see --help)')
    .strict()
    .recommendCommands()
    .version(version)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      usageError = new SnappyError(msg, { code: ErrorCode.Usage });
    });
  try {
    await parser.parseAsync();
    if (usageError) {
      if (!json) process.stderr.write(`${await parser.getHelp()}\n\n`);
      return reportError(usageError, json);
    }
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err, json);
  }
}
