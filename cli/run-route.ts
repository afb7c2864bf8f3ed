import type { GlobalFlags } from './context.ts';

/** The flags `snappy run` takes that stand alone. */
const SWITCHES: Record<string, keyof GlobalFlags> = { '--auto': 'auto', '--dry-run': 'dryRun', '--json': 'json', '--quiet': 'quiet', '-q': 'quiet', '--timings': 'timings' };
/** The flags `snappy run` takes that carry a value. */
const VALUED: Record<string, 'state' | 'remote' | 'config'> = { '--state': 'state', '--remote': 'remote', '--config': 'config' };

/**
 * The arguments of `snappy run <task..>` as the parser would hand them to the command, when
 * they are plain: task names and the command's own flags, each once, every value present.
 * Anything else (help, an unknown or repeated flag, a missing value, `--`, another command)
 * gives undefined and goes to the parser, which knows every rule and words every refusal. The
 * cron job's `run push --auto` so starts without loading the parser, a good part of its start.
 */
export function plainRun(args: readonly string[]): (GlobalFlags & { task: string[] }) | undefined {
  if (args[0] !== 'run') return undefined;
  const task: string[] = [];
  const flags: GlobalFlags = {};
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      if (!/^[a-z][a-z0-9_-]*$/i.test(arg)) return undefined;
      task.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = SWITCHES[name] ?? VALUED[name];
    if (!key || flags[key] !== undefined) return undefined;
    if (SWITCHES[name]) {
      if (eq > 0) return undefined;
      (flags as Record<string, unknown>)[key] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    (flags as Record<string, unknown>)[key] = value;
  }
  return task.length ? { ...flags, task } : undefined;
}
