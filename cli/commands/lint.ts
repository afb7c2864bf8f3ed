import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';

interface LintArgs extends GlobalFlags {
  what: string;
  files?: string[];
}

export const lintCommand: CommandModule<GlobalFlags, LintArgs> = {
  command: 'lint <what> [files..]',
  describe: 'Check files against a locked schema: `lint aggregate [FILE...]` (default: <state>/log/evals.aggregate.ndjson)',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .positional('what', { type: 'string', choices: ['aggregate'], describe: 'what to check', demandOption: true })
      .positional('files', { type: 'string', array: true, describe: 'files of aggregate rows (ndjson)' })
      .example('$0 lint aggregate', 'check ./state/log/evals.aggregate.ndjson (or the one under --state / SNAPPY_STATE)')
      .example('$0 lint aggregate pulled.ndjson', 'check a file; prints FILE:LINE: reason per problem, exit 1 if any') as unknown as Argv<LintArgs>,
  handler: async (argv) => {
    const { formatProblem, lintAggregateFiles } = await import('../../state/lint/aggregate-schema.ts');
    const { printJson } = await import('../output.ts');
    const named = !!argv.files?.length;
    if (!named) await (await import('../state-dir.ts')).resolveStateDir(argv);
    const files = named ? argv.files! : [path.join(argv.state ?? process.env.SNAPPY_STATE ?? 'state', 'log', 'evals.aggregate.ndjson')];
    const found: { file: string; line: number; reason: string }[] = [];
    const res = await lintAggregateFiles(
      named ? files : [],
      (p) => {
        if (!argv.json) process.stdout.write(`${formatProblem(p)}\n`);
        else if (found.length < 10_000) found.push(p);
      },
      (l) => process.stderr.write(`${l}\n`),
      named ? undefined : files[0],
    );
    if (argv.json) printJson({ ok: res.problems === 0, ...res, issues: found });
    else if (!argv.quiet) process.stderr.write(`${res.lines} line(s) in ${res.files} file(s): ${res.problems === 0 ? 'all conform to the aggregate schema v1' : `${res.problems} problem(s) on ${res.badLines} line(s)`}\n`);
    if (res.problems > 0) process.exitCode = 1;
  },
};
