import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';

interface WatchArgs extends GlobalFlags {
  debounce: number;
  poll: number;
}

export const watchCommand: CommandModule<GlobalFlags, WatchArgs> = {
  command: 'watch',
  describe: 'Stay running and react at once to new eval rows and .ready markers (ingest: PID loop, aggregate; then regen), until Ctrl-C',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .option('debounce', { type: 'number', default: 200, describe: 'ms to wait for more changes before acting' })
      .option('poll', { type: 'number', default: 5000, describe: 'ms between safety checks for changes a file watcher missed (0: none)' })
      .example('$0 watch --state ./state', 'regen a skill as soon as its PID loop drops a marker') as unknown as Argv<WatchArgs>,
  handler: async (argv) => {
    const { promises: fs, watch } = await import('node:fs');
    const path = (await import('node:path')).default;
    const { createCli } = await import('../context.ts');
    const { ingestRun } = await import('../../lifecycle/ingest.ts');
    const { acquireLock } = await import('../../adapters/lock.ts');
    const { State } = await import('../../domain/state-layout.ts');
    const { ErrorCode, messageOf, SnappyError } = await import('../../core/errors.ts');
    const { noKeySkips } = await import('../no-key.ts');
    // Unattended: a failed regen is reported and watching goes on.
    let cli = await createCli({ ...argv, auto: true });
    const logDir = path.join(cli.stateDir, 'log');
    const readyDir = path.join(cli.stateDir, State.readyDir);
    await fs.mkdir(logDir, { recursive: true });
    await fs.mkdir(readyDir, { recursive: true });
    const lockFile = path.join(cli.stateDir, State.lock);
    const totals = { passes: 0, rows: 0, failures: 0 };

    const pass = async () => {
      const release = await acquireLock(lockFile, { what: `state dir ${cli.stateDir}` });
      try {
        await cli.openState();
        // A fresh ingest every pass: the task context's ingest() runs once per process.
        const res = await ingestRun(cli.taskContext('ingest'), cli.runner);
        totals.rows += res.rows;
        if (res.rows) cli.log.info(`watch: ingested ${res.rows} new row(s)`);
        await cli.runner.runTask('regen', { ...cli.taskContext('regen'), ingest: async () => res });
        if (res.rows) noKeySkips(cli);
      } finally {
        await release();
      }
    };

    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    let again = false;
    let stopping = false;
    const kick = () => {
      timer = undefined;
      if (running) {
        again = true;
        return;
      }
      totals.passes++;
      running = pass()
        .catch((err) => {
          totals.failures++;
          cli.log.error(`watch: ${messageOf(err)}`);
        })
        .finally(() => {
          running = undefined;
          if (again && !stopping) {
            again = false;
            schedule();
          }
        });
    };
    const schedule = () => {
      if (stopping) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(kick, Math.max(0, argv.debounce));
    };

    // The config reloads when its file changes; a broken edit is reported and the last good
    // config stays in force.
    const reload = async () => {
      try {
        const next = await createCli({ ...argv, auto: true });
        if (next.stateDir !== cli.stateDir) throw new SnappyError(`the state dir would change to ${next.stateDir}; restart watch for that`, { code: ErrorCode.Config });
        cli = next;
        cli.log.info(`watch: reloaded ${cli.configFile ?? 'the config'}`);
        schedule();
      } catch (err) {
        cli.log.error(`watch: config not reloaded, keeping the previous one: ${messageOf(err)}`);
      }
    };
    let reloadTimer: NodeJS.Timeout | undefined;
    const configWatcher = cli.configFile
      ? watch(path.dirname(cli.configFile), (_ev, name) => {
          if (name && name !== path.basename(cli.configFile!)) return;
          if (reloadTimer) clearTimeout(reloadTimer);
          reloadTimer = setTimeout(() => void reload(), Math.max(50, argv.debounce));
        })
      : undefined;

    const watchers = [
      ...(configWatcher ? [configWatcher] : []),
      watch(logDir, (_ev, name) => {
        if (!name || name === 'evals.ndjson') schedule();
      }),
      watch(readyDir, (_ev, name) => {
        if (!name || name.endsWith('.ready')) schedule();
      }),
    ];
    // A watcher can miss changes (network file systems, a folder replaced): compare now and then.
    let seen = '';
    const fingerprint = async () => {
      const st = await fs.stat(path.join(cli.stateDir, State.evalLog)).catch(() => null);
      const ready = (await fs.readdir(readyDir).catch(() => [] as string[])).filter((n) => n.endsWith('.ready')).sort();
      return `${st?.size ?? -1}:${st?.mtimeMs ?? 0}:${ready.join(',')}`;
    };
    seen = await fingerprint();
    const poller =
      argv.poll > 0
        ? setInterval(async () => {
            const now = await fingerprint();
            if (now !== seen) {
              seen = now;
              schedule();
            }
          }, argv.poll)
        : undefined;

    cli.log.info(`watch: watching ${path.join(cli.stateDir, State.evalLog)} and ${readyDir} (Ctrl-C to stop)`);
    kick();

    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        cli.log.info(`watch: ${sig} received, finishing the current pass`);
        for (const w of watchers) w.close();
        if (timer) clearTimeout(timer);
        if (reloadTimer) clearTimeout(reloadTimer);
        if (poller) clearInterval(poller);
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        void (running ?? Promise.resolve()).then(() => resolve());
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
    if (argv.json) {
      const { printJson } = await import('../output.ts');
      printJson({ ok: true, stateDir: cli.stateDir, ...totals, reports: cli.reports, observerFailures: cli.runner.observerFailures() });
    } else cli.log.info(`watch: stopped after ${totals.passes} pass(es), ${totals.rows} row(s)`);
  },
};
