import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import { acquireLock, releaseLockSync } from '../../adapters/lock.ts';
import { State } from '../../domain/state-layout.ts';
import { createCli, type GlobalFlags } from '../context.ts';
import { missingFor } from '../../lifecycle/tasks.ts';
import { removeOwnTempFilesSync } from '../../adapters/file-blob-store.ts';
// Small, and every run needs them: as imports of their own, each would be a file to load.
import { Interrupts } from '../interrupt.ts';
import { recordPush } from '../last-push.ts';
import { noKeySkips } from '../no-key.ts';
import { formatTimings, printJson } from '../output.ts';
import { closest } from '../suggest.ts';

/** The steps of `push --auto`, in order. A step whose provider is not configured is skipped, saying so. */
export const AUTO_PIPELINE = ['pull', 'ingest', 'regen', 'push'] as const;

/** Tasks that need no eval ingest before them. */
const NO_INGEST = new Set(['pull', 'tick']);

/** Expands the task list: `push --auto` is the whole pipeline; `ingest` runs before the first task that reads state. */
export function planTasks(tasks: readonly string[], auto: boolean): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    if (t === 'push' && auto) {
      for (const step of AUTO_PIPELINE) if (!out.includes(step)) out.push(step);
    } else if (!out.includes(t)) out.push(t);
  }
  const first = out.findIndex((t) => !NO_INGEST.has(t) && t !== 'ingest');
  if (first >= 0 && !out.includes('ingest')) out.splice(first, 0, 'ingest');
  return out;
}

export const runCommand: CommandModule<GlobalFlags, GlobalFlags & { task: string[] }> = {
  command: 'run <task..>',
  describe: 'Run tasks: push, pull, aggregate, regen, tick (push --auto runs the whole unattended job)',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .positional('task', { type: 'string', array: true, describe: 'tasks to run, in order', demandOption: true })
      .option('auto', { type: 'boolean', describe: 'unattended, never prompts; push --auto = pull, ingest evals, regen, stage, push, ship the aggregate' })
      .option('dry-run', { type: 'boolean', describe: 'print what would happen and change nothing' })
      .example('$0 run push --auto', 'the cron job of every machine')
      .example('$0 run aggregate --json', 'ingest new eval rows into the anonymized aggregate, print a JSON summary')
      .example('$0 run tick --remote file:///srv/fleet', "run the Worker's minute tick in Node against a remote") as unknown as Argv<GlobalFlags & { task: string[] }>,
  handler: async (argv) => {
    // Loaded side by side: one after the other, each would wait for its files in turn.
    // A tick alone works on the remote only: it must not create anything in a state dir.
    const cli = await createCli(argv, process.env, { stateWrites: !argv.dryRun && !argv.task.every((t) => t === 'tick') });
    const tasks = planTasks(argv.task, !!argv.auto);
    // Tasks are known only once the config's plugins are loaded: check them all before any runs.
    for (const t of tasks) {
      if (t !== 'ingest' && !cli.runner.tasks.has(t)) {
        const known = ['ingest', ...cli.runner.tasks.keys()].sort();
        const s = closest(t, known);
        throw new SnappyError(`unknown task "${t}"; ${s ? `did you mean "${s}"? ` : ''}(the configured plugins provide: ${known.join(', ')})`, {
          code: ErrorCode.TaskUnknown,
          details: { task: t, known, ...(s ? { suggestion: s } : {}) },
        });
      }
    }
    // A task asked for by name that cannot do its work with these plugins is refused now;
    // under --auto the pipeline's steps are skipped instead, each saying why.
    for (const t of argv.task) {
      const missing = t === 'push' && argv.auto ? undefined : missingFor(cli.runner, t);
      if (missing) throw new SnappyError(`snappy run ${t}: ${missing}`, { code: ErrorCode.Usage, details: { task: t } });
    }
    if (cli.mode === 'worker' && tasks.includes('tick')) {
      throw new SnappyError(`run tick is for direct mode: with worker.url set (${cli.remoteUrl}) the Worker ticks every minute itself`, { code: ErrorCode.Usage });
    }
    if (tasks.includes('push')) await cli.checkRemote('write', !argv.dryRun);
    else if (tasks.includes('pull') || tasks.includes('tick')) await cli.checkRemote('read');

    const interrupts = new Interrupts({ json: !!argv.json, quiet: !!argv.quiet }).install();
    cli.signal = interrupts.signal;
    const t0 = performance.now();
    const done: string[] = [];
    try {
      const needsLock = tasks.some((t) => t !== 'tick');
      const lockFile = path.join(cli.stateDir, State.lock);
      const release = needsLock && !argv.dryRun ? await acquireLock(lockFile, { what: `state dir ${cli.stateDir}` }) : undefined;
      if (release) interrupts.atExit(() => releaseLockSync(lockFile));
      if (needsLock) await cli.openState();
      if (cli.remoteUrl.startsWith('file://')) {
        const root = path.resolve(cli.remoteUrl.slice('file://'.length));
        interrupts.atExit(() => removeOwnTempFilesSync(root));
      }
      try {
        for (const t of tasks) {
          if (interrupts.signal.aborted) throw new SnappyError(`stopped before ${t}`, { code: ErrorCode.Interrupted, step: t });
          if (t === 'ingest') {
            if (!argv.dryRun) await cli.ingest();
          } else {
            await cli.runner.runTask(t, cli.taskContext(t));
          }
          done.push(t);
        }
        if (done.includes('push') && !argv.dryRun) await recordPush(cli.stateDir, { ok: true }).catch(() => {});
      } catch (err) {
        // `snappy doctor` says how the last push went: a failed one is worth remembering.
        if (tasks[done.length] === 'push' && !argv.dryRun) await recordPush(cli.stateDir, { ok: false, error: (err as Error)?.message ?? String(err) }).catch(() => {});
        if (err && typeof err === 'object' && !(err as SnappyError).step) Object.assign(err, { step: tasks[done.length] });
        throw interrupts.explain(err, done);
      } finally {
        await release?.();
      }
    } finally {
      interrupts.dispose();
    }
    const failures = cli.runner.observerFailures();
    const skipped = noKeySkips(cli);
    if (argv.json) {
      printJson({ ok: true, tasks: done, stateDir: cli.stateDir, remote: cli.remoteUrl, reports: cli.reports, skipped, observerFailures: failures, timings: cli.runner.timings(), ms: Math.round(performance.now() - t0) });
    }
    if (argv.timings) process.stderr.write(`${formatTimings(cli.runner.timings())}\n`);
  },
};
