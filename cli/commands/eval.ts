import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { checkpoint } from '../../core/checkpoint.ts';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import { validateEvalRow } from '../../domain/eval-row.ts';
import { State } from '../../domain/state-layout.ts';
import type { GlobalFlags } from '../context.ts';

interface EvalArgs extends GlobalFlags {
  skill: string;
  score: number;
  runId: string;
  ok?: boolean;
  costUsd?: number;
}

export const evalCommand: CommandModule<GlobalFlags, EvalArgs> = {
  command: 'eval',
  describe: 'Append one eval row to log/evals.ndjson and ingest it (fires afterEval: PID loop, aggregate)',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .option('skill', { type: 'string', demandOption: true, describe: 'skill name, or <skill>:<rev_id> for a staged revision' })
      .option('score', { type: 'number', demandOption: true, describe: 'score in [0, 1]' })
      .option('run-id', { type: 'string', demandOption: true, describe: 'id of this run (stays on this machine; the aggregate carries an HMAC of it)' })
      .option('ok', { type: 'boolean', default: true, describe: 'did the run succeed (--no-ok for a failed run)' })
      .option('cost-usd', { type: 'number', describe: 'cost of the run in US dollars' })
      .example('$0 eval --skill summarize --score 0.92 --run-id r-1042 --cost-usd 0.015', 'log a good run')
      .example('$0 eval --skill summarize:3f2a9c1d0e4b --score 0.9 --run-id r-77', 'log a run of a staged revision') as unknown as Argv<EvalArgs>,
  handler: async (argv) => {
    const row: Record<string, unknown> = { ts: new Date().toISOString(), skill: argv.skill, score: argv.score, run_id: argv.runId, ok: argv.ok !== false };
    if (argv.costUsd !== undefined) row.cost_usd = argv.costUsd;
    const check = validateEvalRow(row);
    if (!check.ok) throw new SnappyError(`eval row refused: ${check.reason}`, { code: ErrorCode.Usage });
    const { createCli } = await import('../context.ts');
    const { appendAtomic } = await import('../../adapters/fs.ts');
    const { acquireLock } = await import('../../adapters/lock.ts');
    const { printJson } = await import('../output.ts');
    const cli = await createCli(argv, process.env, { createState: true });
    // The append needs no lock (O_APPEND); the ingest that follows does.
    await appendAtomic(path.join(cli.stateDir, State.evalLog), `${JSON.stringify(row)}\n`);
    checkpoint('eval:appended');
    const release = await acquireLock(path.join(cli.stateDir, State.lock), { what: `state dir ${cli.stateDir}` });
    try {
      await cli.openState();
      const res = await cli.ingest();
      const { noKeySkips } = await import('../no-key.ts');
      const skipped = noKeySkips(cli);
      if (argv.json) printJson({ ok: true, row, ingest: { rows: res.rows, malformed: res.malformed.length }, reports: cli.reports, skipped, observerFailures: cli.runner.observerFailures() });
      else cli.log.info(`logged ${argv.skill} score ${argv.score} (run ${argv.runId}); ingested ${res.rows} new row(s)`);
    } finally {
      await release();
    }
  },
};
