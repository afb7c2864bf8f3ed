import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isSkillName } from '../domain/names.ts';
import { State } from '../domain/state-layout.ts';
import { writeJsonAtomic } from './fs.ts';

// The `.ready` markers in `ready/<skill>.ready`: written by the PID loop (or by hand), listed
// by the ready lifecycle, which fires `onReady` once per marker.

/** A marker's content; a hand-made (empty) marker is still a request. */
export interface Marker<S = unknown> {
  skill: string;
  reason: string;
  created: string;
  snapshot: S;
}

/** A marker as found on disk, with the identity that tells a re-created marker from the same one. */
export interface FoundMarker {
  skill: string;
  /** Relative path, e.g. `ready/summarize.ready`. */
  rel: string;
  marker: Partial<Marker>;
  id: string;
}

export const markerFile = (stateDir: string, skill: string): string => path.join(stateDir, State.marker(skill));

export function writeMarker(stateDir: string, marker: Marker): Promise<void> {
  return writeJsonAtomic(markerFile(stateDir, marker.skill), marker);
}

/** Every `ready/<skill>.ready` with a valid skill name; unreadable markers count with empty content. */
export async function listMarkers(stateDir: string): Promise<{ found: FoundMarker[]; ignored: string[] }> {
  const dir = path.join(stateDir, State.readyDir);
  const names = (
    await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    })
  )
    .filter((n) => n.endsWith('.ready'))
    .sort();
  const found: FoundMarker[] = [];
  const ignored: string[] = [];
  for (const name of names) {
    const skill = name.slice(0, -'.ready'.length);
    if (!isSkillName(skill)) {
      ignored.push(`${State.readyDir}${name}: "${skill}" is not a valid skill name`);
      continue;
    }
    const m = await readMarker(stateDir, skill);
    if (m) found.push(m);
  }
  return { found, ignored };
}

export async function readMarker(stateDir: string, skill: string): Promise<FoundMarker | null> {
  const file = markerFile(stateDir, skill);
  let text: string;
  let mtime: number;
  try {
    const st = await fs.lstat(file);
    if (!st.isFile()) return null;
    mtime = st.mtimeMs;
    text = await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
  let marker: Partial<Marker> = {};
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) marker = v;
  } catch {
    /* a hand-made marker (touch ready/x.ready) is still a request to regen */
  }
  const id = `${Math.floor(mtime)}-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
  return { skill, rel: State.marker(skill), marker, id };
}
