import { constants } from 'node:os';
import { ErrorCode, isSnappyError, SnappyError } from '../core/errors.ts';
import { reportError } from './output.ts';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Ctrl-C (SIGINT) and SIGTERM while a command works. The first aborts `signal`: the work
 * stops at its next safe point, records what it did and says so. The second quits at once,
 * after the synchronous clean-ups registered with `atExit` (the lock, temporary files, the
 * progress line), because someone pressing Ctrl-C twice does not want to wait.
 */
export class Interrupts {
  private readonly controller = new AbortController();
  private readonly cleanups = new Set<() => void>();
  private readonly handlers: Record<StopSignal, () => void> = { SIGINT: () => this.handle('SIGINT'), SIGTERM: () => this.handle('SIGTERM') };
  /** The first signal received, if any. */
  received: StopSignal | undefined;

  constructor(private readonly opts: { json: boolean; quiet: boolean }) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  install(): this {
    for (const [sig, fn] of Object.entries(this.handlers)) process.on(sig, fn);
    return this;
  }

  /** Back to the default: a signal ends the process at once. */
  dispose(): void {
    for (const [sig, fn] of Object.entries(this.handlers)) process.off(sig, fn);
    this.cleanups.clear();
  }

  /** Runs `fn` (synchronously) if the process quits at once; returns a function that unregisters it. */
  atExit(fn: () => void): () => void {
    this.cleanups.add(fn);
    return () => this.cleanups.delete(fn);
  }

  /**
   * `err` reworded for an interrupted run: the signal, what stopped, and that the same
   * command resumes. Errors of other kinds are returned as they are.
   */
  explain(err: unknown, done: readonly string[]): unknown {
    const e = err as SnappyError;
    if (!this.received || e?.code !== ErrorCode.Interrupted) return err;
    // The task's own words, without the plugin prefix the runner adds: stopping is no plugin's failure.
    const own = isSnappyError(e.cause) && e.cause.code === ErrorCode.Interrupted ? e.cause.message : e.message;
    return new SnappyError(`${this.received}: ${own}; run the same command again to resume`, {
      code: ErrorCode.Interrupted,
      ...(e.step ? { step: e.step } : {}),
      details: { ...(typeof e.details === 'object' && e.details ? e.details : {}), signal: this.received, done },
    });
  }

  private handle(sig: StopSignal): void {
    const tty = !!process.stderr.isTTY;
    if (!this.received) {
      this.received = sig;
      this.controller.abort(sig);
      // Only a person at a terminal is waiting to see the key press was heard; logs get one line, at the end.
      if (tty && !this.opts.quiet) process.stderr.write(`\r\x1b[Kstopping after the work in flight (Ctrl-C again to quit at once)\n`);
      return;
    }
    for (const fn of this.cleanups) {
      try {
        fn();
      } catch {
        // Quitting at once: a clean-up that fails must not keep the process here.
      }
    }
    if (tty) process.stderr.write('\r\x1b[K');
    const err = new SnappyError(`${sig} again: quit at once, during the work in flight; run the same command again to resume`, { code: ErrorCode.Interrupted, details: { signal: sig } });
    reportError(err, this.opts.json);
    process.exit(128 + constants.signals[sig]);
  }
}
