import type { BlobStore } from '../../core/ports.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { Remote } from '../../domain/layout.ts';
import { parseSkillRef } from '../../domain/names.ts';
import { readJson, updateJson } from '../../domain/json-store.ts';

/**
 * The running tally of one staged rev: every tenant's runs of `<skill>:<rev>`, deduplicated by
 * run id (first score wins). Applying the same rows twice changes nothing, so replays, killed
 * ticks and overlapping ticks cannot double-count. Stored at `snappy-quorum/tally/<skill>/<rev>.json`.
 */
export interface Tally {
  v: 1;
  skill: string;
  rev: string;
  /** tenant -> run_id -> score */
  tenants: Record<string, Record<string, number>>;
}

export const emptyTally = (skill: string, rev: string): Tally => ({ v: 1, skill, rev, tenants: {} });

/** A tally as the tick writes it: anything else in its place is malformed (E_MALFORMED). */
export function isTally(v: unknown): boolean {
  const t = v as Tally;
  if (!t || typeof t !== 'object' || t.v !== 1 || typeof t.tenants !== 'object' || t.tenants === null || Array.isArray(t.tenants)) return false;
  return Object.values(t.tenants).every((runs) => runs && typeof runs === 'object' && !Array.isArray(runs) && Object.values(runs).every((s) => typeof s === 'number' && s >= 0 && s <= 1));
}

export async function readTally(blobs: BlobStore, skill: string, rev: string): Promise<Tally> {
  return (await readJson<Tally>(blobs, Remote.tally(skill, rev), isTally)) ?? emptyTally(skill, rev);
}

/** Groups rows of staged revs by `skill:rev`; rows of plain skills do not count toward any quorum. */
export function groupByRev(rows: Iterable<AggRow>): Map<string, AggRow[]> {
  const out = new Map<string, AggRow[]>();
  for (const r of rows) {
    const ref = parseSkillRef(r.skill);
    if (!ref?.rev) continue;
    const k = `${ref.skill}:${ref.rev}`;
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** Adds rows of one rev to its tally (compare-and-swap); returns how many runs were new. */
export async function applyToTally(blobs: BlobStore, skill: string, rev: string, rows: readonly AggRow[]): Promise<number> {
  let added = 0;
  await updateJson<Tally>(blobs, Remote.tally(skill, rev), () => emptyTally(skill, rev), (cur) => {
    added = 0;
    for (const r of rows) {
      const runs = (cur.tenants[r.tenant] ??= {});
      if (r.run_id in runs) continue;
      runs[r.run_id] = r.score;
      added++;
    }
    return added ? cur : null;
  }, { check: isTally });
  return added;
}
