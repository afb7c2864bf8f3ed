import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';

export const doctorCommand: CommandModule<GlobalFlags, GlobalFlags> = {
  command: 'doctor',
  describe: 'Check this machine and its tenant: key, state, remote or Worker (versions, clock, admission), last push and tick, conflicts, alerts',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .usage(`snappy doctor: is this machine set up right for its tenant? Each check says pass, warn, fail or skip,
and what to do about a warning or a failure. It only reads. Exit 0 when nothing failed (warnings
allowed), 1 when a check failed, 2 for a usage or config error.`)
      .example('$0 doctor', 'check this machine (state ./state, the config in this folder)')
      .example('$0 doctor --json', 'the same as one JSON object: {ok, checks: [{name, status, message, fix?, ms}], summary}')
      .example('SNAPPY_MASTER_KEY=... $0 doctor --state /srv/snappy/state', 'check another state dir with its key') as unknown as Argv<GlobalFlags>,
  handler: async (argv) => {
    const t0 = performance.now();
    const { createCli } = await import('../context.ts');
    const { printJson } = await import('../output.ts');
    const { runDoctor } = await import('../doctor.ts');
    const cli = await createCli(argv, process.env, { stateWrites: false });
    const checks = await runDoctor(cli);
    const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
    for (const c of checks) summary[c.status]++;
    const ms = Math.round(performance.now() - t0);
    const ok = summary.fail === 0;
    if (argv.json) {
      printJson({ ok, ...(ok ? {} : { exitCode: 1 }), mode: cli.mode, stateDir: cli.stateDir, remote: cli.remoteUrl, tenant: cli.identity.tenant ?? null, machine: cli.identity.machine, checks, summary, ms });
    } else {
      const color = !!process.stdout.isTTY;
      const tag = (s: string) => {
        const t = s === 'fail' ? 'FAIL' : s.padEnd(4);
        if (!color) return t;
        return `${s === 'fail' ? '\x1b[31m' : s === 'warn' ? '\x1b[33m' : s === 'pass' ? '\x1b[32m' : '\x1b[2m'}${t}\x1b[0m`;
      };
      const lines = [`snappy doctor: ${cli.mode} mode, state ${cli.stateDir}, ${cli.mode === 'worker' ? 'Worker' : 'remote'} ${cli.remoteUrl}, tenant ${cli.identity.tenant ?? '(none)'}, machine ${cli.identity.machine}`];
      for (const c of checks) {
        lines.push(`  ${tag(c.status)}  ${c.name.padEnd(11)} ${c.message}`);
        if (c.fix) lines.push(`${' '.repeat(19)}fix: ${c.fix}`);
      }
      lines.push(`${checks.length} checks: ${summary.pass} passed, ${summary.warn} warning(s), ${summary.fail} failed, ${summary.skip} skipped, in ${ms} ms`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (!ok) process.exitCode = 1;
  },
};
