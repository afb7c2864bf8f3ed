import type { Identity, RunContext } from '../../core/context.ts';
import { silentLogger, systemClock, type Logger } from '../../core/ports.ts';

/**
 * A run on a local state dir with no remote, as in-process tests and benchmarks drive the
 * lifecycle: what it reports lands in `reports`.
 */
export function localRun(stateDir: string, identity: Identity, opts: { log?: Logger } = {}): RunContext & { reports: Record<string, unknown> } {
  const reports: Record<string, unknown> = {};
  const noRemote = () => Promise.reject(new Error('this run has no remote'));
  return {
    stateDir,
    identity,
    flags: { auto: false, dryRun: false, json: false, quiet: true },
    log: opts.log ?? silentLogger,
    clock: systemClock,
    signal: new AbortController().signal,
    runtime: 'node',
    mode: 'direct',
    remote: noRemote,
    kv: noRemote,
    report: (data) => Object.assign(reports, data),
    reports,
  };
}
