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
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Exit code a CLI maps an error to: 2 for usage/config, 1 for everything else. */
export function exitCodeOf(err: unknown): 1 | 2 {
  const code = isSnappyError(err) ? err.code : undefined;
  return code === ErrorCode.Config || code === ErrorCode.Usage || code === ErrorCode.PluginOptions || code === ErrorCode.PluginLoad || code === ErrorCode.PluginCycle || code === ErrorCode.PluginMissingDependency || code === ErrorCode.PluginDuplicate ||
    code === ErrorCode.TaskUnknown
    ? 2
    : 1;
}

export interface SnappyErrorInit {
  code: ErrorCodeValue | string;
  plugin?: string;
  hook?: string;
  step?: string;
  details?: unknown;
  cause?: unknown;
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

  constructor(message: string, init: SnappyErrorInit) {
    const prefix = init.plugin ? `[plugin ${init.plugin}${init.hook ? ` ${init.hook}` : ''}] ` : '';
    super(prefix + message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'SnappyError';
    this.code = init.code;
    if (init.plugin !== undefined) this.plugin = init.plugin;
    if (init.hook !== undefined) this.hook = init.hook;
    if (init.step !== undefined) this.step = init.step;
    if (init.details !== undefined) this.details = init.details;
  }
}

export function isSnappyError(err: unknown): err is SnappyError {
  return typeof err === 'object' && err !== null && (err as { snappy?: unknown }).snappy === true && typeof (err as { code?: unknown }).code === 'string';
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
