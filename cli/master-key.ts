import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { State } from '../domain/state-layout.ts';

/**
 * Where `snappy init` keeps this machine's copy of the tenant's master key: inside the state
 * dir's `.snappy/`, which never syncs and which init git-ignores.
 */
export const MASTER_KEY_FILE = State.internal('master-key');

/** The master key a command uses, and where it came from. */
export interface MasterKeyChoice {
  key?: string;
  /** `SNAPPY_MASTER_KEY`, or the key file's path; undefined when there is no key. */
  from?: string;
  /** Said once when the key file can be read by other users. */
  warning?: string;
}

/**
 * `SNAPPY_MASTER_KEY` when the variable is set at all (set empty, it means "no key", even
 * beside a key file), else the key file in the state dir, else none.
 */
export async function masterKeyFor(stateDir: string, env: NodeJS.ProcessEnv = process.env): Promise<MasterKeyChoice> {
  if (env.SNAPPY_MASTER_KEY !== undefined) return env.SNAPPY_MASTER_KEY ? { key: env.SNAPPY_MASTER_KEY, from: 'SNAPPY_MASTER_KEY' } : {};
  const file = path.join(stateDir, MASTER_KEY_FILE);
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file).then((s) => s.mode)]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new SnappyError(`cannot read the master key file ${file}: ${code ?? (err as Error).message}`, { code: ErrorCode.Config, details: { path: file }, cause: err });
  }
  const key = text.trim();
  if (!key) return {};
  if (/\s/.test(key)) throw new SnappyError(`the master key file ${file} holds more than one line or word: it must hold the key alone`, { code: ErrorCode.Config, details: { path: file } });
  const loose = mode & 0o077;
  return { key, from: file, ...(loose ? { warning: `the master key file ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 it` } : {}) };
}

/** A new master key: 32 random bytes, base64url (256 bits, 43 characters). */
export function newMasterKey(): string {
  return randomBytes(32).toString('base64url');
}
