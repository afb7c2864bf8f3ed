import { exitCodeOf, isSnappyError, messageOf } from '../core/errors.ts';
import type { Timing } from '../core/plugin.ts';

/** Warnings of this run that the --json object carries too (they also go to stderr). */
const runWarnings: string[] = [];

/** Records a warning for the --json object (once per distinct message). */
export function addJsonWarning(message: string): void {
  if (!runWarnings.includes(message)) runWarnings.push(message);
}

/** Prints one JSON object on stdout: the only thing --json ever prints there. */
export function printJson(value: unknown): void {
  let out = value;
  if (runWarnings.length && value && typeof value === 'object' && !Array.isArray(value)) {
    const own = (value as { warnings?: unknown }).warnings;
    out = { ...value, warnings: [...(Array.isArray(own) ? own : []), ...runWarnings] };
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/** The JSON shape of an error. */
export function errorJson(err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown; plugin?: unknown; hook?: unknown; step?: unknown; details?: unknown };
  return {
    code: isSnappyError(err) ? e.code : 'E_UNEXPECTED',
    message: messageOf(err),
    ...(e.plugin ? { plugin: e.plugin } : {}),
    ...(e.hook ? { hook: e.hook } : {}),
    ...(e.step ? { step: e.step } : {}),
    ...(isSnappyError(err) && e.details !== undefined ? { details: e.details } : {}),
  };
}

/** Reports an error (stderr, plus stdout JSON with --json) and returns the exit code. */
export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  process.stderr.write(`snappy: ${messageOf(err)}\n`);
  if (!isSnappyError(err) && process.env.SNAPPY_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (json) printJson({ ok: false, exitCode: code, error: errorJson(err) });
  return code;
}

/** A plain table of per-plugin timings, slowest first, for --timings. */
export function formatTimings(timings: readonly Timing[]): string {
  const rows = [...timings].sort((a, b) => b.totalMs - a.totalMs);
  const lines = ['plugin               hook                 calls     total ms       max ms'];
  for (const t of rows) {
    lines.push(`${t.plugin.padEnd(20)} ${t.hook.padEnd(20)} ${String(t.calls).padStart(5)} ${t.totalMs.toFixed(2).padStart(12)} ${t.maxMs.toFixed(2).padStart(12)}`);
  }
  return lines.join('\n');
}
