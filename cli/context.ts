import './jitless.ts';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { resolveConfig, type ResolvedConfig } from '../core/config.ts';
import { ErrorCode, isSnappyError, SnappyError } from '../core/errors.ts';
import type { Identity, RunFlags } from '../core/context.ts';
import type { IngestSummary, TaskContext } from '../core/plugin.ts';
import { systemClock, type Clock, type KV, type Logger, type RemoteStore } from '../core/ports.ts';
import { createRunner, type Runner } from '../core/runner.ts';
import { useParseMemo } from '../core/lazy-schema.ts';
import { DEFAULT_TICK_BUDGET_MS } from '../lifecycle/tick.ts';
import { lifecycleTasks } from '../lifecycle/tasks.ts';
import { ingestRun } from '../lifecycle/ingest.ts';
import { tenantIdOfSha256 } from '../domain/hash.ts';
import { keyStrength, weakKeyMessage } from '../domain/key-strength.ts';
import { isMachineId } from '../domain/names.ts';
import { State } from '../domain/state-layout.ts';
import { checkBuiltinOptions, loadConfig } from './config-load.ts';
import { BUILTINS } from './builtins.ts';
import { cliLogger } from './log.ts';
import { machineIdFor } from './machine-id.ts';
import { masterKeyFor } from './master-key.ts';
import { addJsonWarning } from './output.ts';
import { loadPlugins } from './plugins-load.ts';
import { checkRemote, defaultRemote, openRemote, type RemoteUse } from './remote.ts';
import { resolveStateDir } from './state-dir.ts';
import { openStateVersion, type StateCheck } from './state-version.ts';
import { openParseMemo } from './parse-memo.ts';

/** Flags every command accepts. */
export interface GlobalFlags {
  state?: string;
  remote?: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  auto?: boolean;
  timings?: boolean;
}

/** Everything a command needs, built once per process. */
export interface Cli {
  stateDir: string;
  remoteUrl: string;
  /** `worker` when config `worker.url` is set: every push and pull goes through the Worker. */
  mode: 'direct' | 'worker';
  /** Where the remote URL came from (`--remote`, `SNAPPY_REMOTE`, the config); undefined for the embedded default. */
  remoteFrom?: string;
  /**
   * Refuses, before any work, a file:// remote named explicitly that cannot serve `use`; with
   * `create`, a writer makes the folder. In Worker mode there is no remote to check.
   */
  checkRemote(use: RemoteUse, create?: boolean): Promise<void>;
  configFile?: string;
  /** The state dir's version as found, and (after `openState`) what this run did about it. */
  state: StateCheck;
  /**
   * Before the first write to the state dir, under its lock: migrates an older state dir and
   * records this run's tenant (a command that writes nothing leaves it as found). Once per Cli;
   * never before the usage and config checks, so a refused command writes nothing.
   */
  openState(): Promise<StateCheck>;
  config: ResolvedConfig;
  identity: Identity;
  runner: Runner;
  log: Logger;
  flags: RunFlags;
  reports: Record<string, Record<string, unknown>>;
  /** Given to every task context made after it is set: aborted by Ctrl-C or SIGTERM. */
  signal: AbortSignal;
  /** A task context for `task` (its reports land under that name). */
  taskContext(task: string): TaskContext;
  /** The run's ingest pass (at most one per process; later calls return the first result). */
  ingest(): Promise<IngestSummary>;
}

/** How a command uses the state dir. */
export interface CliOptions {
  /**
   * Whether this command writes the state dir (default: unless --dry-run). Only then is a
   * machine id generated and stored; a read-only command gets a provisional one.
   */
  stateWrites?: boolean;
  /** Create a named state dir that does not exist yet (snappy eval), saying so. */
  createState?: boolean;
}

export async function createCli(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env, opts: CliOptions = {}): Promise<Cli> {
  const log = cliLogger({ json: !!flags.json, quiet: !!flags.quiet });
  // --quiet is for cron: the AWS SDK's notice that it will drop this Node version is not this
  // run's warning. Its documented switch, set only when the user has not set it either way.
  if (flags.quiet && env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  // The built CLI remembers its config's and options' parses (cli/parse-memo.ts): a cron run
  // whose config has not changed validates it without loading zod.
  useParseMemo(openParseMemo(process.cwd()));
  const loaded = await loadConfig({ explicit: flags.config ?? env.SNAPPY_CONFIG, dir: process.cwd() });
  // Every tenant's and machine's view of the built-ins' options, not only this machine's: a bad
  // override fails every run of the fleet at once, not just the runs it applies to.
  await checkBuiltinOptions(loaded, async (name) => (BUILTINS[name] ? (await BUILTINS[name]!()).options : undefined));
  // After the config (its errors come first, naming its file), before anything reads the state.
  const { dir: stateDir, created, from } = await resolveStateDir(flags, env, { create: opts.createState });
  if (created) log.warn(`created state dir ${stateDir} (from ${from}): it did not exist`);
  const chosen = await masterKeyFor(stateDir, env);
  const masterKey = chosen.key;
  if (chosen.warning) {
    log.warn(chosen.warning);
    addJsonWarning(chosen.warning);
  }
  // node:crypto, not WebCrypto (domain/hash.ts): the first WebCrypto digest of a process costs a millisecond.
  const tenant = masterKey ? tenantIdOfSha256(createHash('sha256').update(masterKey).digest('hex')) : undefined;
  if (masterKey) warnIfWeak(masterKey, log);
  // Before anything reads the state: a newer format is refused. An older one is migrated by
  // `openState`, when the command starts its work.
  const state = await openStateVersion(stateDir, { write: false, tenant, log });
  const writesState = opts.stateWrites ?? !flags.dryRun;
  let opened: Promise<StateCheck> | undefined;
  const machine = env.SNAPPY_MACHINE_ID || loaded.config.machineId || (await generatedMachineId(stateDir, writesState, log));
  if (!isMachineId(machine)) {
    const where = env.SNAPPY_MACHINE_ID ? 'SNAPPY_MACHINE_ID' : `config machineId${loaded.file ? ` in ${loaded.file}` : ''}`;
    throw new SnappyError(`machine id ${JSON.stringify(machine)} (from ${where}) is invalid: expected 1-64 characters of [A-Za-z0-9._-]`, { code: ErrorCode.Config });
  }
  const config = resolveConfig(loaded.config, { tenant, machine });
  const workerUrl = config.worker?.url;
  const mode = workerUrl ? 'worker' : 'direct';
  if (flags.remote === '') throw new SnappyError('--remote is empty: give it file://DIR or s3://BUCKET[/PREFIX]', { code: ErrorCode.Usage });
  const remoteFrom = flags.remote !== undefined ? '--remote' : env.SNAPPY_REMOTE ? 'SNAPPY_REMOTE' : config.remote ? `remote in ${loaded.file ?? 'the config'}` : undefined;
  if (workerUrl && remoteFrom) {
    // Worker mode: the Worker is the only writer of shared state. A bucket named beside it
    // would be a second way in, so naming one is a mistake, refused before any work.
    throw new SnappyError(`${remoteFrom} names a remote, but config worker.url (${workerUrl}) puts this machine in Worker mode, where every push and pull goes through the Worker: remove one of the two (README "Two modes")`, { code: flags.remote !== undefined || env.SNAPPY_REMOTE ? ErrorCode.Usage : ErrorCode.Config });
  }
  const clock = clockOf(env);
  const remoteUrl = workerUrl ?? flags.remote ?? (env.SNAPPY_REMOTE || undefined) ?? config.remote ?? defaultRemote(stateDir);
  const configDir = loaded.file ? path.dirname(loaded.file) : process.cwd();
  const instances = await loadPlugins(config, configDir);
  const tasks = lifecycleTasks({ tickBudgetMs: config.tick?.budgetMs ?? DEFAULT_TICK_BUDGET_MS });
  let runner: Runner;
  try {
    runner = createRunner({ plugins: instances, config: config as Record<string, unknown>, log, runtime: 'node', tapTimeoutMs: config.timeouts ?? {}, tasks, precompile: false });
  } catch (err) {
    throw namingConfig(err, loaded.file, { tenant, machine });
  }
  const identity: Identity = { machine, ...(tenant ? { tenant, masterKey } : {}) };
  const taskFlags: RunFlags = { auto: !!flags.auto, dryRun: !!flags.dryRun, json: !!flags.json, quiet: !!flags.quiet };

  let remote: Promise<RemoteStore> | undefined;
  let kv: Promise<KV> | undefined;
  let ingest: Promise<IngestSummary> | undefined;
  const reports: Record<string, Record<string, unknown>> = {};
  const getRemote = () => (remote ??= workerUrl ? openWorker(workerUrl, identity, config) : openRemote(remoteUrl, config));

  const cli: Cli = {
    stateDir,
    remoteUrl,
    mode,
    ...(remoteFrom ? { remoteFrom } : {}),
    checkRemote: async (use, create) => {
      if (!workerUrl) await checkRemote(remoteUrl, remoteFrom, use, create);
    },
    ...(loaded.file ? { configFile: loaded.file } : {}),
    state,
    openState: () =>
      (opened ??= (async () => {
        if (!writesState) return cli.state;
        const s = await openStateVersion(stateDir, { write: true, tenant, log, ...(state.fresh !== undefined ? { fresh: state.fresh } : {}) });
        if (s.rekeyed) log.warn(rekeyedMessage(s.rekeyed.from, s.rekeyed.to));
        cli.state = s;
        return s;
      })()),
    config,
    identity,
    runner,
    log,
    flags: taskFlags,
    reports,
    signal: new AbortController().signal,
    ingest: () =>
      (ingest ??= ingestRun(cli.taskContext('ingest'), runner)),
    taskContext: (task) => ({
      stateDir,
      identity,
      flags: taskFlags,
      log,
      clock,
      signal: cli.signal,
      runtime: 'node',
      mode,
      runner,
      remote: getRemote,
      kv: () => {
        if (workerUrl) return Promise.reject(new SnappyError('Worker mode: the KV is the Worker\'s own; ask the Worker (snappy status, snappy ops)', { code: ErrorCode.Usage }));
        return (kv ??= getRemote().then(async (b) => {
          const { BlobKV } = await import('../adapters/blob-kv.ts');
          return new BlobKV(b);
        }));
      },
      ingest: () => cli.ingest(),
      report: (data) => {
        reports[task] = { ...(reports[task] ?? {}), ...data };
      },
    }),
  };
  return cli;
}

/** The Worker as this machine's remote: signed with the tenant's key, so a master key is needed. */
async function openWorker(url: string, identity: Identity, config: ResolvedConfig): Promise<RemoteStore> {
  if (!identity.tenant || !identity.masterKey) {
    throw new SnappyError(`Worker mode (worker.url ${url}) needs SNAPPY_MASTER_KEY: the tenant signs every request to the Worker with a key derived from it`, { code: ErrorCode.Usage });
  }
  const { WorkerRemote } = await import('../adapters/worker-remote.ts');
  const { DEFAULT_TIMEOUTS } = await import('../adapters/http-client.ts');
  const w = config.worker!;
  return new WorkerRemote(url, { tenant: identity.tenant, masterKey: identity.masterKey }, { connectMs: w.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs, responseMs: w.timeoutMs ?? DEFAULT_TIMEOUTS.responseMs });
}

/** Said when this state dir's tenant changed: the operator must link the two ids. */
export function rekeyedMessage(from: string, to: string): string {
  return `SNAPPY_MASTER_KEY changed since the last run on this state dir: it was tenant ${from}'s, it is now tenant ${to}'s. If this is a key rotation, the operator links the two (snappy ops rotate ${from} ${to} <public key from snappy ops key>), so the fleet counts them as one tenant and the rows ${from} has not shipped yet go out under ${to} (docs/operate.md "Rotate a key")`;
}

/**
 * A plugin's invalid options, named by the config file they came from and the overrides
 * merged into them (the built-ins' sections are checked earlier for every tenant and machine
 * alone; what is left is a combination, or a third-party plugin's options).
 */
function namingConfig(err: unknown, file: string | undefined, who: { tenant?: string | undefined; machine: string }): unknown {
  if (!isSnappyError(err) || err.code !== ErrorCode.PluginOptions) return err;
  const merged = `${who.tenant ? `tenant ${who.tenant}, ` : ''}machine ${who.machine}`;
  const issues = ((err.details as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? []).map((i) => `  at ${i.path}: ${i.message}`).join('\n');
  return new SnappyError(`invalid config ${file ?? '(built-in defaults)'}: the options of plugin ${err.plugin} as they apply to ${merged} (base config, then tenants.<id>, then machines.<id>):\n${issues}`, {
    code: ErrorCode.PluginOptions,
    ...(err.plugin ? { plugin: err.plugin } : {}),
    details: { ...(err.details as object), file: file ?? null },
    cause: err,
  });
}

let warnedWeak = false;

/** A weak master key is named once per run: on stderr, and in the --json object. */
function warnIfWeak(masterKey: string, log: Logger): void {
  const s = keyStrength(masterKey);
  if (s.strong || warnedWeak) return;
  warnedWeak = true;
  const msg = weakKeyMessage(s);
  log.warn(msg);
  addJsonWarning(msg);
}

/** The stored pseudonym, generated on first use by a command that writes the state dir. */
async function generatedMachineId(stateDir: string, write: boolean, log: Logger): Promise<string> {
  let got;
  try {
    got = await machineIdFor(stateDir, { write });
  } catch (err) {
    throw new SnappyError((err as Error).message, { code: ErrorCode.Config, cause: err });
  }
  if (got.source === 'provisional' && write) log.warn(`no machine id stored yet and ${got.why}: this run uses the provisional pseudonym ${got.id} (set SNAPPY_MACHINE_ID or config machineId to fix one)`);
  return got.id;
}

/**
 * The clock of this run: the system's, or shifted so that it starts at `SNAPPY_NOW` (ISO-8601 or
 * epoch ms) and runs on from there. A rehearsal aid (what would the tick do in 15 days?) and how
 * the tests move time forward for expiry; nothing that signs requests reads it.
 */
export function clockOf(env: NodeJS.ProcessEnv): Clock {
  const v = env.SNAPPY_NOW?.trim();
  if (!v) return systemClock;
  const at = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(at)) throw new SnappyError(`SNAPPY_NOW=${JSON.stringify(v.slice(0, 60))}: expected an ISO-8601 time or epoch milliseconds`, { code: ErrorCode.Usage });
  const offset = at - Date.now();
  return { now: () => Date.now() + offset };
}
