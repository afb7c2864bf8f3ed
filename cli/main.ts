import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from './context.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { PACKAGE_ROOT } from './package-root.ts';
import { reportError } from './output.ts';
import { runPlain } from './run-entry.ts';
import { noCommandError, usageError, type ParserView } from './usage.ts';

const EPILOG = `Environment:
  SNAPPY_MASTER_KEY   the tenant's secret; its SHA-256 names the tenant. Unset: the key in
                      <state>/.snappy/master-key (snappy init makes it), else no aggregate is
                      made or shipped and the tenant's pages do not sync (said in one line)
  SNAPPY_MACHINE_ID   this machine's id, seen by the fleet in brief names (else config machineId,
                      else a pseudonym generated once and kept in <state>/.snappy/machine-id)
  SNAPPY_STATE        state dir (default ./state); a dir named here or with --state must exist
  SNAPPY_REMOTE       remote: file://DIR or s3://BUCKET[/PREFIX] (default: .snappy-remote/
                      beside the state dir, created on first use)
  SNAPPY_CONFIG       config file (default: snappy.config.ts|.mts|.js|.mjs|.json or
                      package.json "snappy" in the current folder)

Exit codes:
  0    done
  1    failed: the message names the step or plugin, and the path of an unreadable file
  2    usage or config error, refused before any work: an unknown command, task or flag (the
       closest valid one is named), a missing or invalid argument, a state dir or a file://
       remote named but missing
  130  stopped by Ctrl-C (143: by SIGTERM) at a safe point: what was done is recorded and
       said in one line; the same command resumes. A second Ctrl-C quits at once

With --json, stdout holds exactly one JSON object, also on failure:
  {"ok": false, "exitCode": 2, "error": {"code": "E_USAGE", "message": "...", "details": {...}}}
  (and "plugin", "hook", "step" when known)
Docs: README.md`;

export { listenForTests } from './run-entry.ts';

/** Runs the CLI on `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const plain = await runPlain(args);
  if (plain !== undefined) return plain;
  // The other commands load with the parser: a plain `snappy run` needs neither.
  const [{ default: yargs }, { COMMANDS }] = await Promise.all([import('yargs'), import('./commands/index.ts')]);
  const version = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;
  const parser = yargs(args)
    .scriptName('snappy')
    .usage('snappy keeps a fleet\'s AI-agent skills improving without raw eval data leaving any machine.\n\nUsage: $0 <command> [options]')
    .option('state', { type: 'string', requiresArg: true, describe: 'state dir (SNAPPY_STATE; default ./state). A dir named here must exist', global: true })
    .option('remote', { type: 'string', requiresArg: true, describe: 'remote URL: file://DIR or s3://BUCKET[/PREFIX] (SNAPPY_REMOTE)', global: true })
    .option('config', { type: 'string', requiresArg: true, describe: 'config file (SNAPPY_CONFIG)', global: true })
    .option('json', { type: 'boolean', describe: 'print one JSON object on stdout and nothing else there', global: true })
    .option('quiet', { type: 'boolean', alias: 'q', describe: 'print only warnings and errors', global: true })
    .option('timings', { type: 'boolean', describe: 'print how long each plugin took on each hook (stderr)', global: true })
    // A valued global flag given twice would reach the command as an array of both values.
    .check((argv) => {
      for (const flag of ['state', 'remote', 'config'] as const) {
        const v = argv[flag] as unknown;
        if (Array.isArray(v)) throw new SnappyError(`--${flag} is given ${v.length} times (${v.map((x) => JSON.stringify(String(x))).join(', ')}): give it once`, { code: ErrorCode.Usage, details: { flag: `--${flag}` } });
      }
      return true;
    }, true)
    .command(COMMANDS)
    .demandCommand(1, 'no command')
    .strict()
    // The parser's messages are read by usage.ts: keep them in English whatever the locale.
    .locale('en')
    .version(version)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    // Throwing here is what stops the parser: a handler that returned would let it run the
    // command anyway, with the arguments it could not make sense of.
    .fail((msg, err) => {
      // The parser's own refusals come as a YError (e.g. a flag without its value); others are the command's.
      if (err && err.name === 'YError') throw usageError(err.message, viewOf(parser, COMMANDS), args);
      if (err) throw err;
      if (msg === 'no command') throw noCommandError(viewOf(parser, COMMANDS), args);
      throw usageError(msg, viewOf(parser, COMMANDS), args);
    });
  skipHelpPrerender(parser);
  try {
    await parser.parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err, json);
  }
}

/**
 * yargs renders the whole help text each time it starts a command, in case that command asks
 * for its help later; none of ours does, and the rendering is a good part of a no-op run's
 * start. `--help` and usage errors render it as before.
 */
function skipHelpPrerender(parser: Argv): void {
  // A yargs 18 method its type definitions leave out.
  const internal = parser as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage?: () => void } } };
  const usage = internal.getInternalMethods().getUsageInstance();
  if (typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** The command path and flags the parser had reached when it failed. */
function viewOf(parser: Argv, commands: readonly CommandModule<GlobalFlags, any>[]): ParserView {
  // Both are yargs 18 methods its type definitions leave out.
  const internal = parser as unknown as {
    getInternalMethods(): { getContext(): { commands: string[]; fullCommands: string[] } };
    getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> };
  };
  const ctx = internal.getInternalMethods().getContext();
  const opts = internal.getOptions();
  const names = new Set<string>([...Object.keys(opts.key), ...Object.values(opts.alias).flat()]);
  // The parser also files every dashed flag under its camelCase name; suggest the dashed one.
  const flags = [...names].filter((n) => !/[A-Z]/.test(n) || n.length === 1);
  const usage = ctx.fullCommands[ctx.fullCommands.length - 1];
  return { commands: [...ctx.commands], ...(usage ? { usage } : {}), flags, topCommands: commands.map((c) => String(c.command).split(' ')[0]!) };
}
