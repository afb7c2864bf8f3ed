import type { Clock, KV, Logger, RemoteStore, BlobStore } from './ports.ts';

/** Who runs: this machine and its tenant. */
export interface Identity {
  machine: string;
  /** Tenant id (12 hex); undefined when SNAPPY_MASTER_KEY is unset. */
  tenant?: string;
  /** The master key itself; never leaves the machine. */
  masterKey?: string;
}

/** Flags of the command that started the run. */
export interface RunFlags {
  auto: boolean;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
}

/**
 * What every hook call carries, wherever it runs (a machine's CLI or the Worker). A tap takes
 * what it needs from here and keeps nothing between calls.
 */
export interface BaseContext {
  readonly log: Logger;
  /** The time to use: taps never read the system clock beside it. */
  readonly clock: Clock;
  /** Aborted when the run must stop (Ctrl-C, SIGTERM, a tick's deadline): stop at a safe point. */
  readonly signal: AbortSignal;
  /** Where the run happens. */
  readonly runtime: 'node' | 'worker';
}

/**
 * One run on a machine: the first argument of `afterEval`, `afterIngest`, `onReady` and
 * `onStatus`, and the base of every task's and `beforePush`'s context.
 */
export interface RunContext extends BaseContext {
  /** Absolute path of the state dir the run works on. */
  readonly stateDir: string;
  readonly identity: Identity;
  readonly flags: RunFlags;
  /** `worker` when config `worker.url` is set: the Worker is then the only writer of shared state. */
  readonly mode: 'direct' | 'worker';
  /**
   * The remote, opened on first use (so that a run that never touches it never loads its
   * client): the bucket in direct mode, the Worker's signed API in Worker mode.
   */
  remote(): Promise<RemoteStore>;
  /** The KV beside the remote (direct mode only: in Worker mode the KV is the Worker's). */
  kv(): Promise<KV>;
  /** Records what the current task did (printed with --json, under the task's name). */
  report(data: Record<string, unknown>): void;
}

/** Second argument of `beforePush`: the run, and a way to stop the push. */
export interface PushContext extends RunContext {
  readonly dryRun: boolean;
  /** Stops the push. The runner names the calling plugin in the error (E_VETO). */
  veto(reason: string): never;
}

/** What every `onTick` tap receives: the Worker's cron, or `snappy run tick` in Node. */
export interface TickContext extends BaseContext {
  /** The tick's time (epoch ms), fixed for the whole tick. */
  readonly now: number;
  /** Epoch ms by which the tick must finish; taps start no new work after it. */
  readonly deadline: number;
  readonly blobs: BlobStore;
  readonly kv: KV;
  /** Taps put what they did here, under their own name (the CLI prints it with --json). */
  readonly results: Record<string, unknown>;
  /** Limits the tick to these staged revs (`skill:rev_id`), e.g. when fired by an ingest. */
  readonly only?: readonly string[];
}
