import type { Logger } from '../core/ports.ts';

/**
 * The CLI's logger. Warnings and errors go to stderr. Info goes to stdout, or to stderr when
 * --json owns stdout, and nowhere with --quiet. Debug shows with SNAPPY_DEBUG=1.
 */
export function cliLogger(opts: { json: boolean; quiet: boolean }): Logger {
  const info = opts.quiet ? () => {} : opts.json ? (m: string) => process.stderr.write(`${m}\n`) : (m: string) => process.stdout.write(`${m}\n`);
  return {
    info,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
    debug: process.env.SNAPPY_DEBUG ? (m) => process.stderr.write(`debug: ${m}\n`) : () => {},
  };
}
