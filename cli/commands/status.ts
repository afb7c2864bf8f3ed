import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';

export const statusCommand: CommandModule<GlobalFlags, GlobalFlags> = {
  command: 'status',
  describe: 'Show PID state per skill, markers, staged revs, quorum progress and the last promotion',
  builder: (y: Argv<GlobalFlags>) => y.example('$0 status --json', 'the same, as one JSON object'),
  handler: async (argv) => {
    const { createCli } = await import('../context.ts');
    const { printJson } = await import('../output.ts');
    const cli = await createCli(argv, process.env, { stateWrites: false });
    // A remote not there yet is worth saying, not worth hiding the local state for.
    const warnings: string[] = [];
    await cli.checkRemote('read').catch((err: Error) => {
      warnings.push(err.message);
      cli.log.warn(err.message);
    });
    const run = cli.taskContext('status');
    const request = { sections: {} as Record<string, unknown>, lines: [] as string[], color: !!process.stdout.isTTY && !argv.json };
    // An unreadable state is a failure of this step, never "nothing there yet".
    await cli.runner.hooks.onStatus.promise(run, request).catch((err: unknown) => {
      throw err && typeof err === 'object' && !(err as { step?: string }).step ? Object.assign(err, { step: 'status' }) : err;
    });
    // The alerts that concern this tenant (docs/operate.md "Watch"), when there is a way to ask.
    const { tenantAlerts } = await import('../tenant-alerts.ts');
    const { alerts } = warnings.length ? { alerts: null } : await tenantAlerts(cli);
    if (argv.json) printJson({ ok: true, stateDir: cli.stateDir, remote: cli.remoteUrl, machine: cli.identity.machine, tenant: cli.identity.tenant ?? null, plugins: cli.runner.plugins, ...request.sections, alerts, ...(warnings.length ? { warnings } : {}) });
    else {
      process.stdout.write(`state ${cli.stateDir}  remote ${cli.remoteUrl}  machine ${cli.identity.machine}  tenant ${cli.identity.tenant ?? '(no SNAPPY_MASTER_KEY)'}\n`);
      process.stdout.write(request.lines.length ? `${request.lines.join('\n')}\n` : 'no plugin reported anything\n');
      if (alerts?.length) process.stdout.write(`alerts (${alerts.length}):\n${alerts.map((a) => `  ${a.severity === 'error' ? 'ERROR' : 'warning'} ${a.id}: ${a.message}`).join('\n')}\n`);
    }
  },
};
