import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../adapters/fs.ts';
import type { BlobStore, Logger, RemoteStore } from '../../core/ports.ts';
import { revIdOf } from '../../domain/hash.ts';
import { expiryEntryOf, promotionOf, readLog } from '../../domain/changelog.ts';
import { isMalformed } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { parseRevFates, type RevFate, type RevFateState } from '../../domain/rev-fates.ts';
import { State } from '../../domain/state-layout.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** A fate this pull learned, for the pull's report; `revived`: an expired rev reopened (it waits for evaluation again). */
export interface LearnedFate extends Omit<RevFate, 'state'> {
  rev: string;
  state: RevFateState | 'revived';
}

/**
 * After a pull: what became of the staged revs this machine holds and does not yet know the
 * fate of, so that `snappy status` stops listing them as waiting for evaluation. In order of
 * cost: the canonical page mirrored here (it hashes to the promoted rev's id: no request),
 * then the remote's own records, asked only while some rev is still open, and only when this
 * pull brought something new or the last asking is `RECHECK_MS` old (so a quiet pull stays
 * as cheap as it was): in Worker mode `GET /v1/status` (one request; its `decided` list), in
 * direct mode a listing of the changelog and of the quorum's rejection and quarantine records
 * (three listings, and one read per rev decided). Learned fates are kept in
 * `.snappy/rev-fates.json`; a fate never changes, but for `expired`: an expired rev is asked
 * about again like an open one, and dropped from the file once the remote no longer says so
 * (an operator revived it).
 */
export async function learnFates(stateDir: string, remote: RemoteStore, retry: RetryPolicy, log: Logger, opts: { news: boolean; now?: number }): Promise<LearnedFate[]> {
  const file = path.join(stateDir, State.revFates);
  const fates = parseRevFates(await readJsonFile(file).catch(() => undefined));
  const open = (await localStagedRevs(stateDir)).filter((id) => !fates.revs[id] || fates.revs[id]!.state === 'expired');
  if (!open.length) return [];
  const learned: LearnedFate[] = [];
  const now = new Date().toISOString();
  const wasExpired = new Set(open.filter((id) => fates.revs[id]?.state === 'expired'));
  const confirmed = new Set<string>();
  const settle = (id: string, f: Omit<RevFate, 'learned'>) => {
    const cur = fates.revs[id];
    if (cur?.state === 'expired' && f.state === 'expired') confirmed.add(id);
    if (cur && (cur.state !== 'expired' || f.state === 'expired')) return;
    const fate: RevFate = { ...f, learned: now };
    fates.revs[id] = fate;
    learned.push({ rev: id, ...fate });
  };
  for (const id of open) {
    const [skill, rev] = id.split(':') as [string, string];
    const page = await fs.readFile(path.join(stateDir, State.canonicalDir(skill), `${skill}.md`)).catch(() => null);
    if (page && (await revIdOf(page)) === rev) settle(id, { state: 'promoted', source: 'canonical' });
  }
  const still = open.filter((id) => !fates.revs[id] || fates.revs[id]!.state === 'expired');
  const at = opts.now ?? Date.now();
  const asked = still.length > 0 && (opts.news || fates.checked === undefined || at - fates.checked >= RECHECK_MS);
  if (asked) {
    fates.checked = at;
    try {
      if (remote.fleetStatus) await fromWorker(remote, still, settle);
      else await fromRecords(remote, still, retry, settle);
      // Asked, and no longer expired: revived (or decided otherwise, settled above).
      for (const id of wasExpired) {
        if (confirmed.has(id) || fates.revs[id]?.state !== 'expired') continue;
        delete fates.revs[id];
        learned.push({ rev: id, state: 'revived', source: remote.fleetStatus ? 'worker' : 'changelog', learned: now });
      }
    } catch (err) {
      // Only status depends on it: the pull itself is done, and the next one asks again.
      log.warn(`could not learn what became of ${still.length} staged rev(s) from ${remote.url}: ${(err as Error).message}`);
    }
  }
  if (learned.length || asked) await writeJsonAtomic(file, fates);
  return learned;
}

/** How long a quiet pull goes without asking the remote's records about open revs. */
export const RECHECK_MS = 3_600_000;

/** `<skill>:<rev>` of every staged rev in the state dir (its page present). */
async function localStagedRevs(stateDir: string): Promise<string[]> {
  const out: string[] = [];
  const dir = path.join(stateDir, State.stagingDir);
  for (const skill of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!isSkillName(skill)) continue;
    for (const rev of await fs.readdir(path.join(dir, skill)).catch(() => [] as string[])) {
      if (isRevId(rev) && (await fs.stat(path.join(stateDir, State.stagedPage(skill, rev))).catch(() => null))?.isFile()) out.push(`${skill}:${rev}`);
    }
  }
  return out.sort();
}

type Settle = (id: string, f: Omit<RevFate, 'learned'>) => void;

async function fromWorker(remote: RemoteStore, open: readonly string[], settle: Settle): Promise<void> {
  const s = await remote.fleetStatus!();
  const decided = Array.isArray(s.decided) ? (s.decided as { skill?: unknown; rev?: unknown; state?: unknown; ts?: unknown; by?: unknown; reason?: unknown }[]) : [];
  const want = new Set(open);
  for (const d of decided) {
    const id = `${String(d.skill)}:${String(d.rev)}`;
    if (!want.has(id) || !isFate(d.state)) continue;
    settle(id, { state: d.state, source: 'worker', ...str('ts', d.ts), ...str('by', d.by), ...str('reason', d.reason) });
  }
}

async function fromRecords(remote: BlobStore, open: readonly string[], retry: RetryPolicy, settle: Settle): Promise<void> {
  const want = new Set(open);
  // Promotions: each skill's changelog, folded (domain/changelog.ts); a rev promoted and since
  // rolled back was still promoted, and is no longer waiting for evaluation.
  for (const skill of new Set(open.map((id) => id.slice(0, id.indexOf(':'))))) {
    let found: [string, Omit<RevFate, 'learned'>][] = [];
    try {
      found = await withRetry(async () => {
        const log = await readLog(remote, skill);
        const out: [string, Omit<RevFate, 'learned'>][] = [];
        for (const id of want) {
          const rev = id.slice(skill.length + 1);
          if (!id.startsWith(`${skill}:`)) continue;
          if (log.revs[rev] === 'expired') {
            const e = await expiryEntryOf(remote, log, rev).catch(() => null);
            out.push([id, { state: 'expired', source: 'changelog', ...str('ts', e?.ts), ...str('by', e?.by), ...str('reason', e?.reason) }]);
            continue;
          }
          if (!Object.values(log.promotions).some((p) => p.rev_id === rev)) continue;
          const e = await promotionOf(remote, log, rev).catch(() => null);
          out.push([id, { state: 'promoted', source: 'changelog', ...str('ts', e?.ts), ...str('by', e?.by) }]);
        }
        return out;
      }, retry);
    } catch (err) {
      if (!isMalformed(err)) throw err;
      // A torn changelog leaves this skill's revs waiting; the tick reports the object.
    }
    for (const [id, fate] of found) {
      settle(id, fate);
      want.delete(id);
    }
  }
  const sources: [RevFateState, string, (skill: string, rev: string) => string][] = [
    ['quarantined', Remote.quarantinePrefix, Remote.quarantine],
    ['rejected', Remote.rejectionPrefix, Remote.rejection],
  ];
  for (const [state, prefix, keyOf] of sources) {
    const ids = await withRetry(async () => {
      const found: string[] = [];
      for await (const o of remote.list(prefix)) {
        const m = /^([^/]+)\/([0-9a-f]{12})\.json$/.exec(o.key.slice(prefix.length));
        if (m && want.has(`${m[1]}:${m[2]}`)) found.push(`${m[1]}:${m[2]}`);
      }
      return found;
    }, retry);
    for (const id of ids) {
      const [skill, rev] = id.split(':') as [string, string];
      // The record says when and who; a torn one still settles the fate (its key is the fact).
      let rec: Record<string, unknown> = {};
      try {
        const b = await withRetry(() => remote.get(keyOf(skill, rev)), retry);
        rec = b ? (JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>) : {};
      } catch {
        rec = {};
      }
      settle(id, { state, source: 'quorum-records', ...str('ts', rec.ts), ...str('by', rec.by), ...str('reason', rec.reason) });
      want.delete(id);
    }
  }
}

function isFate(v: unknown): v is RevFateState {
  return v === 'promoted' || v === 'quarantined' || v === 'rejected' || v === 'expired';
}

function str<K extends string>(k: K, v: unknown): { [P in K]?: string } {
  return (typeof v === 'string' && v ? { [k]: v.slice(0, 500) } : {}) as { [P in K]?: string };
}
