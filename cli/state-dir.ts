import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorCode, SnappyError } from '../core/errors.ts';

/** The state dir a command works on, and whether the user named it. */
export interface StateDirChoice {
  dir: string;
  /** `--state` or `SNAPPY_STATE` when named; undefined for the default `./state`. */
  from?: string;
  /** True when this call created the named dir (only with `create`). */
  created?: boolean;
}

/**
 * Resolves the state dir before any work. A dir named with --state or SNAPPY_STATE must
 * exist: a typo must not start a new, empty state. The default `./state` is taken as it is
 * (a first run creates it). With `create` (snappy eval, the command that starts a state by
 * recording its first run) a missing named dir is created instead, and the caller says so.
 */
export async function resolveStateDir(flags: { state?: string | undefined }, env: NodeJS.ProcessEnv = process.env, opts: { create?: boolean } = {}): Promise<StateDirChoice> {
  if (flags.state === '') throw new SnappyError('--state is empty: give it a folder', { code: ErrorCode.Usage });
  const named = flags.state !== undefined ? { value: flags.state, from: '--state' } : env.SNAPPY_STATE ? { value: env.SNAPPY_STATE, from: 'SNAPPY_STATE' } : undefined;
  if (!named) return { dir: path.resolve('state') };
  const dir = path.resolve(named.value);
  let st;
  try {
    st = await fs.stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.create) {
      await fs.mkdir(dir, { recursive: true });
      return { dir, from: named.from, created: true };
    }
    if (code === 'ENOENT') {
      // init reads --state and SNAPPY_STATE as every command does: the same words set this dir up.
      const init = named.from === '--state' ? `snappy init --state ${JSON.stringify(dir)}` : 'snappy init';
      throw new SnappyError(`state dir ${dir} (from ${named.from}) does not exist: create it (mkdir -p ${JSON.stringify(dir)}) or set it up with \`${init}\``, { code: ErrorCode.Usage, details: { path: dir } });
    }
    if (code === 'ENOTDIR') throw new SnappyError(`state dir ${dir} (from ${named.from}) is not a folder: a part of its path is a file`, { code: ErrorCode.Usage, details: { path: dir } });
    throw new SnappyError(`cannot read the state dir ${dir} (from ${named.from}): ${(err as Error).message}`, { code: ErrorCode.Invalid, step: 'state', details: { path: dir }, cause: err });
  }
  if (!st.isDirectory()) throw new SnappyError(`state dir ${dir} (from ${named.from}) is not a folder`, { code: ErrorCode.Usage, details: { path: dir } });
  return { dir, from: named.from };
}
