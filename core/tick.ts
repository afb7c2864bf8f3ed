import type { SnappyHooks, TickContext } from './hooks.ts';

/** Runs the `onTick` chain under a deadline: the signal aborts when the deadline passes. */
export async function runTick(hooks: SnappyHooks, base: Omit<TickContext, 'signal' | 'deadline' | 'results'> & { budgetMs: number; results?: Record<string, unknown> }): Promise<Record<string, unknown>> {
  const controller = new AbortController();
  const deadline = base.now + base.budgetMs;
  const timer = setTimeout(() => controller.abort(new Error(`tick deadline of ${base.budgetMs} ms passed`)), base.budgetMs);
  const results = base.results ?? {};
  try {
    const { budgetMs: _b, ...rest } = base;
    await hooks.onTick.promise({ ...rest, deadline, signal: controller.signal, results });
  } finally {
    clearTimeout(timer);
  }
  return results;
}
