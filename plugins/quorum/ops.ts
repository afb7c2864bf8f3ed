import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { isMalformed, readJson } from './json-store.ts';
import { KvKeys, promote, stagedFiles, type ChangelogRow, type PromoteResult } from './promote.ts';
import type { Rejection } from './revs.ts';
import { emptyTally, readTally } from './tally.ts';
import { quarantineOf } from './verify.ts';
import { progressOf } from './rule.ts';

/** An operator action refused for a reason the caller should show (HTTP 400/404/409). */
export class OpsError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9._@+-]{1,64}$/;

function checkRef(skill: string, rev: string): void {
  if (!isSkillName(skill)) throw new OpsError(`skill ${JSON.stringify(skill)} is not a valid skill name`, 400);
  if (!isRevId(rev)) throw new OpsError(`rev id ${JSON.stringify(rev)} is not 12 lower-case hex characters`, 400);
}

function checkName(by: string, what: string): void {
  if (!NAME.test(by)) throw new OpsError(`${what} ${JSON.stringify(by)}: expected 1-64 characters of [A-Za-z0-9._@+-]`, 400);
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
  if (!(await stagedFiles(blobs, skill, rev)).length) throw new OpsError(`no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`, 404);
  const q = await quarantineOf(blobs, skill, rev);
  if (q) throw new OpsError(`${skill}:${rev} is quarantined (${q.reason}); it can never be promoted`, 409);
  const tally = await readTally(blobs, skill, rev).catch((err) => (isMalformed(err) ? emptyTally(skill, rev) : Promise.reject(err)));
  const p = progressOf(tally, { minTenants: 1, minRuns: 1, minScore: 0 });
  const row: ChangelogRow = { ts: new Date(now).toISOString(), skill, rev_id: rev, by: `manual:${by}`, tenants: p.tenants.length, runs: p.totalRuns, mean: p.mean };
  const res = await promote(blobs, kv, row);
  if (res.quarantined) throw new OpsError(`${skill}:${rev} was not promoted: ${res.quarantined.reason}; it is quarantined now`, 409);
  if (res.incomplete) throw new OpsError(`${skill}:${rev} cannot be promoted yet: ${res.incomplete}`, 409);
  return res;
}

/** Rejects a staged rev: the tick never promotes it (an approval still can). */
export async function rejectRev(blobs: BlobStore, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<Rejection> {
  checkRef(skill, rev);
  checkName(by, 'operator');
  if (reason.length > 1000) throw new OpsError('reason: at most 1000 characters', 400);
  if (!(await stagedFiles(blobs, skill, rev)).length) throw new OpsError(`no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`, 404);
  const done = await readJson<ChangelogRow>(blobs, Remote.changelog(skill, rev)).catch((err) => (isMalformed(err) ? ({ ts: '?', by: '?' } as ChangelogRow) : Promise.reject(err)));
  if (done) throw new OpsError(`${skill}:${rev} was already promoted at ${done.ts} by ${done.by}`, 409);
  const rec: Rejection = { ts: new Date(now).toISOString(), by, reason };
  await blobs.put(Remote.rejection(skill, rev), JSON.stringify(rec), { contentType: 'application/json' });
  return rec;
}
