import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { readJson } from './json-store.ts';
import { KvKeys, promote, stagedFiles, type ChangelogRow, type PromoteResult } from './promote.ts';
import type { Rejection } from './revs.ts';
import { readTally } from './tally.ts';
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
 * `manual:<by>` in its changelog row. Approving an already promoted rev changes nothing.
 */
export async function approveRev(blobs: BlobStore, kv: KV, skill: string, rev: string, by: string, now = Date.now()): Promise<PromoteResult> {
  checkRef(skill, rev);
  checkName(by, 'approver');
  if (!(await stagedFiles(blobs, skill, rev)).length) throw new OpsError(`no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`, 404);
  const p = progressOf(await readTally(blobs, skill, rev), { minTenants: 1, minRuns: 1, minScore: 0 });
  const row: ChangelogRow = { ts: new Date(now).toISOString(), skill, rev_id: rev, by: `manual:${by}`, tenants: p.tenants.length, runs: p.totalRuns, mean: p.mean };
  return promote(blobs, kv, row);
}

/** Rejects a staged rev: the tick never promotes it (an approval still can). */
export async function rejectRev(blobs: BlobStore, skill: string, rev: string, by: string, reason = '', now = Date.now()): Promise<Rejection> {
  checkRef(skill, rev);
  checkName(by, 'operator');
  if (reason.length > 1000) throw new OpsError('reason: at most 1000 characters', 400);
  if (!(await stagedFiles(blobs, skill, rev)).length) throw new OpsError(`no staged rev ${skill}:${rev} (nothing at ${Remote.stagedDir(skill, rev)})`, 404);
  const done = await readJson<ChangelogRow>(blobs, Remote.changelog(skill, rev));
  if (done) throw new OpsError(`${skill}:${rev} was already promoted at ${done.ts} by ${done.by}`, 409);
  const rec: Rejection = { ts: new Date(now).toISOString(), by, reason };
  await blobs.put(Remote.rejection(skill, rev), JSON.stringify(rec), { contentType: 'application/json' });
  return rec;
}
