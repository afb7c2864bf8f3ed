import { isUtf8 } from 'node:buffer';
import { spawn } from 'node:child_process';
import { checkpoint } from '../../core/checkpoint.ts';
import type { AgentSpec } from './options.ts';
import { ErrorCode, SnappyError } from '../../core/errors.ts';

/** What one agent attempt gets. */
export interface AgentCall {
  skill: string;
  brief: string;
  /** Absolute path of the brief (env SNAPPY_BRIEF). */
  briefPath: string;
  timeoutMs: number;
  maxBytes: number;
  /** Extra environment for an argv agent. */
  env?: Record<string, string>;
}

/** An attempt that produced no page; `message` says why in words. */
export class AgentFailure extends SnappyError {
  constructor(
    message: string,
    readonly kind: 'start' | 'exit' | 'timeout' | 'output' | 'throw',
  ) {
    super(message, { code: ErrorCode.AgentFailed, details: { kind } });
    this.name = 'AgentFailure';
  }
}

/** Variables the agent never sees: the tenant's secret stays with snappy. */
const WITHHELD = ['SNAPPY_MASTER_KEY'];

/** Runs one attempt of `agent`; resolves to what it printed (argv) or returned (function). */
export function runAgent(agent: AgentSpec, call: AgentCall): Promise<string> {
  return typeof agent === 'function' ? runFunction(agent, call) : runArgv(agent, call);
}

async function runFunction(fn: Extract<AgentSpec, (...a: never[]) => unknown>, call: AgentCall): Promise<string> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(new Error('timeout'));
      reject(new AgentFailure(`regen agent function timed out after ${call.timeoutMs} ms`, 'timeout'));
    }, call.timeoutMs);
  });
  try {
    const out = await Promise.race([Promise.resolve().then(() => fn(call.brief, { skill: call.skill, briefPath: call.briefPath, signal: ac.signal })), timeout]);
    if (typeof out !== 'string') throw new AgentFailure(`regen agent function returned ${out === null ? 'null' : typeof out}, expected the page as a string`, 'output');
    return out;
  } catch (err) {
    if (err instanceof AgentFailure) throw err;
    throw new AgentFailure(`regen agent function threw: ${err instanceof Error ? err.message : String(err)}`, 'throw');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Spawns the argv in its own process group (detached), writes the brief to its stdin and
 * collects stdout. At the timeout the whole group gets SIGTERM, then SIGKILL after a short
 * grace; after any exit the group is killed too, so nothing the agent started lingers.
 */
function runArgv(argv: readonly string[], call: AgentCall): Promise<string> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !WITHHELD.includes(k)) env[k] = v;
  Object.assign(env, call.env, { SNAPPY_BRIEF: call.briefPath, SNAPPY_SKILL: call.skill });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: AgentFailure | undefined;
    let settled = false;
    let drain: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* the group is already gone */
      }
    };
    const fail = (f: AgentFailure) => {
      failure ??= f;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 1000).unref();
    };
    const timer = setTimeout(() => fail(new AgentFailure(`regen agent "${cmd}" timed out after ${call.timeoutMs} ms; its process group (pgid ${child.pid}) was killed`, 'timeout')), call.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drain);
      killGroup('SIGKILL');
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      const why = tail ? `; stderr: ${tail}` : '';
      if (failure) return reject(new AgentFailure(failure.message + why, failure.kind));
      if (code !== 0) return reject(new AgentFailure(`regen agent "${cmd}" ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${why}`, 'exit'));
      const bytes = Buffer.concat(chunks);
      if (!isUtf8(bytes)) return reject(new AgentFailure(`regen agent "${cmd}" printed bytes that are not valid UTF-8`, 'output'));
      resolve(bytes.toString('utf8'));
    };
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new AgentFailure(`cannot start regen agent "${cmd}": ${(err as NodeJS.ErrnoException).code ?? err.message}`, 'start'));
    });
    child.stdout!.on('data', (d: Buffer) => {
      size += d.length;
      if (size > call.maxBytes) fail(new AgentFailure(`regen agent "${cmd}" printed more than ${call.maxBytes} bytes`, 'output'));
      else chunks.push(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4096);
    });
    // An agent that never reads its stdin closes it early: that is its right, not an error.
    child.stdin!.on('error', () => {});
    child.stdin!.end(call.brief);
    checkpoint('regen:agent-started');
    // Once the agent itself exits, whatever it left running in its group is killed; then
    // 'close' drains what is still in the pipes (with a fallback, should something outside
    // the group hold them open).
    child.on('exit', (code, signal) => {
      killGroup('SIGKILL');
      drain = setTimeout(() => finish(code, signal), 2000);
      child.on('close', () => finish(code, signal));
    });
  });
}

