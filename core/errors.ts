/** Stable error codes. Match on `code`, never on message text. */
export const ErrorCode = {
  Config: 'E_CONFIG',
  Usage: 'E_USAGE',
  PluginOptions: 'E_PLUGIN_OPTIONS',
  PluginLoad: 'E_PLUGIN_LOAD',
  PluginCycle: 'E_PLUGIN_CYCLE',
  PluginMissingDependency: 'E_PLUGIN_MISSING_DEP',
  PluginDuplicate: 'E_PLUGIN_DUPLICATE',
  HookFailed: 'E_HOOK_FAILED',
  HookTimeout: 'E_HOOK_TIMEOUT',
  HooksSealed: 'E_HOOKS_SEALED',
  Veto: 'E_VETO',
  TaskUnknown: 'E_TASK_UNKNOWN',
  TaskFailed: 'E_TASK_FAILED',
  Remote: 'E_REMOTE',
  Precondition: 'E_PRECONDITION',
  Invalid: 'E_INVALID',
  Locked: 'E_LOCKED',
  /** An object in the shared store is not what it should be (torn, hand-written, poisoned). */
  Malformed: 'E_MALFORMED',
  /** The shared store does not enforce conditional writes, and no single writer was declared. */
  Backend: 'E_BACKEND',
  /** Stopped by SIGINT or SIGTERM at a safe point; `details.signal` names the signal. */
  Interrupted: 'E_INTERRUPTED',
  /** A named thing (a staged rev, a tenant) does not exist. */
  NotFound: 'E_NOT_FOUND',
  /** The request contradicts the state it would change (already done, quarantined, ...). */
  Conflict: 'E_CONFLICT',
  /** One file or plan entry refused (sync): reported, the rest goes on. */
  Refused: 'E_REFUSED',
  /** The regen agent failed (did not start, exited non-zero, timed out, printed no page). */
  AgentFailed: 'E_AGENT_FAILED',
  /** A tenant registry action the caller got wrong (a malformed tenant id, key or operator name). */
  Registry: 'E_REGISTRY',
  /** A peer, a remote or a state dir of a version this release cannot work with (docs/operate.md "Upgrade"). */
  Version: 'E_VERSION',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Exit code a CLI maps an error to: 2 for usage/config, 128 + the signal number for an
 * interruption (130 for SIGINT, 143 for SIGTERM, as shells report them), 1 for everything else.
 */
export function exitCodeOf(err: unknown): number {
  if (!isSnappyError(err)) return 1;
  if (err.code === ErrorCode.Interrupted) return (err as SnappyError & { details?: { signal?: string } }).details?.signal === 'SIGTERM' ? 143 : 130;
  // A 400 is the caller's mistake: a usage error, whichever plugin said it.
  return USAGE_CODES.has(err.code) || err.status === 400 ? 2 : 1;
}

const USAGE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.Config,
  ErrorCode.Usage,
  ErrorCode.PluginOptions,
  ErrorCode.PluginLoad,
  ErrorCode.PluginCycle,
  ErrorCode.PluginMissingDependency,
  ErrorCode.PluginDuplicate,
  ErrorCode.TaskUnknown,
  ErrorCode.Version,
]);

export interface SnappyErrorInit {
  code: ErrorCodeValue | string;
  plugin?: string;
  hook?: string;
  step?: string;
  details?: unknown;
  cause?: unknown;
  /** The HTTP status a host that answers over HTTP (the Worker) gives this error: 400, 404, 409, ... */
  status?: number;
}

/**
 * Every error snappy raises. Recognise it with `isSnappyError` (a property check), not
 * `instanceof`: two installed copies of snappy must still understand each other's errors.
 */
export class SnappyError extends Error {
  readonly snappy = true as const;
  readonly code: string;
  readonly plugin?: string;
  readonly hook?: string;
  readonly step?: string;
  readonly details?: unknown;
  readonly status?: number;

  constructor(message: string, init: SnappyErrorInit) {
    const prefix = init.plugin ? `[plugin ${init.plugin}${init.hook ? ` ${init.hook}` : ''}] ` : '';
    super(prefix + message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'SnappyError';
    this.code = init.code;
    if (init.plugin !== undefined) this.plugin = init.plugin;
    if (init.hook !== undefined) this.hook = init.hook;
    if (init.step !== undefined) this.step = init.step;
    if (init.details !== undefined) this.details = init.details;
    if (init.status !== undefined) this.status = init.status;
  }
}

export function isSnappyError(err: unknown): err is SnappyError {
  return typeof err === 'object' && err !== null && (err as { snappy?: unknown }).snappy === true && typeof (err as { code?: unknown }).code === 'string';
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
