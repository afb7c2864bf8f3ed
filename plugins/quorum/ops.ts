import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { isMalformed, readJson } from '../../domain/json-store.ts';
import { KvKeys, promote, stagedFiles, type ChangelogRow, type PromoteResult } from './promote.ts';
import type { Rejection } from './revs.ts';
import { emptyTally, readTally } from './tally.ts';
import { quarantineOf } from './verify.ts';
import { progressOf } from './rule.ts';
import { countedTally, recordCache } from './identity.ts';
import { QuorumErrorCode as Q, quorumError } from './errors.ts';

const NAME = /^[A-Za-z0-9._@+-]{1,64}$/;

function checkRef(skill: string, rev: string): void {
  if (!isSkillName(skill)) throw quorumError(Q.BadRef, `skill ${JSON.stringify(skill)} is not a valid skill name`);
  if (!isRevId(rev)) throw quorumError(Q.BadRef, `rev id ${JSON.stringify(rev)} is not 12 lower-case hex characters`);
}

function checkName(by: string, what: string): void {
  if (!NAME.test(by)) throw quorumError(Q.BadInput, `${what} ${JSON.stringify(by)}: expected 1-64 characters of [A-Za-z0-9._@+-]`);
}

/**
 * Approves a staged rev: promotes it now, whatever its quorum and gate, recording
 * `manual:<by>` (the operator, never the page's author) in its changelog row. Approving an
 * already promoted rev changes nothing. A quarantined rev, or one whose bytes no longer match
 * its manifest, is refused (409): an approval promotes what was staged, nothing else.
 */
export async function approveRev(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, now = Date.now()): Promise<PromoteResult> {
  checkRef(skill, rev);
  checkName(by, 'approver');
  if (!(await stagedFiles(blobs, skill, rev)).length) throw quorumError(Q.NoSuchRev, `no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`);
  const q = await quarantineOf(blobs, skill, rev);
  if (q) throw quorumError(Q.Quarantined, `${skill}:${rev} is quarantined (${q.reason}); it can never be promoted`);
  const tally = await readTally(blobs, skill, rev).catch((err) => (isMalformed(err) ? emptyTally(skill, rev) : Promise.reject(err)));
  const p = progressOf((await countedTally(blobs, tally, false, recordCache())).tally, { minTenants: 1, minRuns: 1, minScore: 0 });
  const row: ChangelogRow = { ts: new Date(now).toISOString(), skill, rev_id: rev, by: `manual:${by}`, tenants: p.tenants.length, runs: p.totalRuns, mean: p.mean };
  const res = await promote(blobs, kv, row);
  if (res.quarantined) throw quorumError(Q.Quarantined, `${skill}:${rev} was not promoted: ${res.quarantined.reason}; it is quarantined now`);
  if (res.incomplete) throw quorumError(Q.Incomplete, `${skill}:${rev} cannot be promoted yet: ${res.incomplete}`);
  return res;
}

/** Rejects a staged rev: the tick never promotes it (an approval still can). */
export async function rejectRev(blobs: BlobStore, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<Rejection> {
  checkRef(skill, rev);
  checkName(by, 'operator');
  if (reason.length > 1000) throw quorumError(Q.BadInput, 'reason: at most 1000 characters');
  if (!(await stagedFiles(blobs, skill, rev)).length) throw quorumError(Q.NoSuchRev, `no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`);
  const done = await readJson<ChangelogRow>(blobs, Remote.changelog(skill, rev)).catch((err) => (isMalformed(err) ? ({ ts: '?', by: '?' } as ChangelogRow) : Promise.reject(err)));
  if (done) throw quorumError(Q.AlreadyPromoted, `${skill}:${rev} was already promoted at ${done.ts} by ${done.by}`);
  const rec: Rejection = { ts: new Date(now).toISOString(), by, reason };
  await blobs.put(Remote.rejection(skill, rev), JSON.stringify(rec), { contentType: 'application/json' });
  return rec;
}
