import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isMachineId } from '../domain/names.ts';
import { State } from '../domain/state-layout.ts';

/** Where the generated machine id is kept: inside the state dir, never synced. */
export const MACHINE_ID_FILE = State.internal('machine-id');

/** This machine's id when none is configured, and how it was found. */
export interface GeneratedMachineId {
  id: string;
  /** stored: read from the file; created: generated now and stored; provisional: generated for this run only. */
  source: 'stored' | 'created' | 'provisional';
  /** Why a provisional id could not be stored. */
  why?: string;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A fresh pseudonym: `m-` and 10 random base32 characters (50 bits). It says nothing about the machine. */
export function newMachinePseudonym(): string {
  const bytes = randomBytes(10);
  let s = 'm-';
  for (const b of bytes) s += BASE32[b & 31];
  return s;
}

/**
 * The machine id kept in `<state>/.snappy/machine-id`, generated once on first use. The id
 * travels in brief names, so it is a random pseudonym, never the host name; kept in the state
 * dir, it stays the same across runs and container restarts as long as the state does.
 *
 * Generating it is a write, made only when `write` is set (commands that write the state dir
 * anyway). A read-only command, or a state dir that cannot be written, gets a provisional
 * pseudonym for this run. Two first runs at once agree: the file is created whole with link(2),
 * which fails when another process made it first, and then theirs is read.
 */
export async function machineIdFor(stateDir: string, opts: { write: boolean }): Promise<GeneratedMachineId> {
  const file = path.join(stateDir, MACHINE_ID_FILE);
  const stored = await readStored(file);
  if (stored) return { id: stored, source: 'stored' };
  const id = newMachinePseudonym();
  if (!opts.write) return { id, source: 'provisional', why: 'this command does not write the state dir' };
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, `${id}\n`, { flag: 'wx' });
    try {
      await fs.link(tmp, file);
      return { id, source: 'created' };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const theirs = await readStored(file);
      if (theirs) return { id: theirs, source: 'stored' };
      throw err;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { id, source: 'provisional', why: `cannot write ${file} (${code})` };
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => {});
  }
}

async function readStored(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the machine id in ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const id = text.trim();
  if (!isMachineId(id)) throw new Error(`${file} holds ${JSON.stringify(text.trim().slice(0, 80))}, not a machine id (1-64 characters of [A-Za-z0-9._-]); remove the file to get a new one, or set SNAPPY_MACHINE_ID`);
  return id;
}
