import type { TickContext } from '../../core/context.ts';
import type { ChangelogEntry, ProblemSink } from '../../domain/changelog.ts';
import { revIdOf } from '../../domain/hash.ts';
import { isMalformed, nullIfMalformed } from '../../domain/json-store.ts';
import { Remote } from '../../domain/layout.ts';
import { readDaily, tenantsSummarizedSince, type DailySummary } from './daily.ts';
import { linkedWatch, recordCache, type RecordCache } from './identity.ts';
import { readTally } from './tally.ts';
import { baselineOf, judge, type Baseline, type WatchVerdict } from './objection.ts';
import { type QuorumOptions, thresholdsFor, watchOptionsFor } from './options.ts';
import type { PromotionIndex } from './revs.ts';
import { rollback } from './rollback.ts';
import { adopt, closeWatch, notePageSeen, readWatch, type Watch, type WatchRef } from './watch.ts';
import { QuorumErrorCode as Q } from './errors.ts';

/** One watch the tick looked at, and what it did about it. */
export interface WatchOutcome {
  skill: string;
  rev: string;
  seq: number;
  outcome: 'watching' | 'rolled back' | 'pinned' | 'closed';
  reason: string;
  /** The watch's verdict (absent for a watch closed without judging). */
  verdict?: Omit<WatchVerdict, 'tenants'>;
}

const DAY = 86_400_000;

/**
 * The watch part of the tick (README "Watch and rollback"): for each open watch, close
 * it when its page was replaced or has been watched long enough; note tenants whose shared page
 * now is the promoted one (direct mode: no Worker saw the push); judge the objections; roll the
 * page back, exactly once, when as many tenants object as the quorum needs, unless it is pinned.
 */
export async function watchTick(tick: TickContext, opts: QuorumOptions, idx: PromotionIndex, open: readonly WatchRef[], problem: ProblemSink): Promise<{ watches: WatchOutcome[]; rolledBack: ChangelogEntry[]; partial: boolean }> {
  const { blobs, kv } = tick;
  const out: { watches: WatchOutcome[]; rolledBack: ChangelogEntry[]; partial: boolean } = { watches: [], rolledBack: [], partial: false };
  const only = tick.only ? new Set(tick.only.filter((s) => !s.includes(':'))) : null;
  const records = recordCache();
  for (const ref of open) {
    if (only && !only.has(ref.skill)) continue;
    if (tick.signal.aborted || tick.clock.now() > tick.deadline) {
      out.partial = true;
      break;
    }
    try {
      let w = await readWatch(blobs, ref);
      if (!w) continue;
      const s = idx.changelog.skills.get(ref.skill);
      const wo = watchOptionsFor(opts, ref.skill);
      if (s?.promoted?.seq !== ref.seq) {
        const rolledBack = s?.revs.get(w.rev) === 'rolled-back';
        await closeWatch(blobs, ref, rolledBack ? 'rolled back' : 'replaced', tick.now);
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: 'closed', reason: rolledBack ? 'rolled back' : 'a later promotion replaced it' });
        continue;
      }
      if (!wo.enabled || tick.now > w.promotedAt + wo.days * DAY) {
        await closeWatch(blobs, ref, 'passed', tick.now, wo.enabled ? `watched for ${wo.days} days` : 'config quorum.watch.enabled is false');
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: 'closed', reason: wo.enabled ? `watched for ${wo.days} days without a rollback: trusted now` : 'watch disabled' });
        continue;
      }
      if (await observeAdoption(tick, opts, w, ref)) w = (await readWatch(blobs, ref)) ?? w;
      const verdict = await judgeWatch(tick, opts, w, records);
      const { tenants: _t, ...summary } = verdict;
      if (!verdict.rollback) {
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: 'watching', reason: verdict.reason, verdict: summary });
        continue;
      }
      if (s.pins.has(w.rev)) {
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: 'pinned', reason: `${verdict.reason}; pinned by an operator, so not rolled back`, verdict: summary });
        continue;
      }
      const evidence = {
        watch: { seq: ref.seq, promotedAt: verdict.promotedAt, adopted: verdict.adopted, runs: verdict.runs },
        thresholds: verdict.thresholds,
        objecting: verdict.tenants.filter((t) => t.state === 'objects').map((t) => ({ tenant: t.tenant, runs: t.runs, mean: t.mean, baseline: t.baseline, adopted: t.adopted, reason: t.reason })),
      };
      const r = await rollback(blobs, kv, { skill: ref.skill, ts: new Date(tick.now).toISOString(), by: 'rollback', watched: { seq: ref.seq, rev: w.rev }, tenants: verdict.objecting, runs: verdict.objectingRuns, mean: verdict.objectingMean, evidence }, { problem, now: tick.clock.now() });
      if (r.rolledBack && r.entry) {
        out.rolledBack.push(r.entry);
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: 'rolled back', reason: `${verdict.reason}; ${r.restored ? `restored ${r.restored.rev_id}` : 'no earlier canonical: withdrawn'}`, verdict: summary });
        tick.log.info(`rolled back ${ref.skill}:${w.rev}: ${verdict.reason}; ${r.restored ? `canonical is ${r.restored.rev_id} again` : 'its canonical is withdrawn (there was none before)'}`);
      } else {
        out.watches.push({ skill: ref.skill, rev: w.rev, seq: ref.seq, outcome: r.why === 'pinned' ? 'pinned' : 'closed', reason: `${verdict.reason}; not rolled back: ${r.why}`, verdict: summary });
      }
    } catch (err) {
      if (!isMalformed(err) && (err as { code?: string }).code !== Q.CannotRestore) throw err;
      problem({ key: Remote.watch(ref.skill, ref.seq), reason: (err as Error).message });
    }
  }
  return out;
}

/**
 * Judges a watch as it stands: baselines from the daily summaries, standings from the registry;
 * a rotated tenant's ids judged as one tenant, its baseline pooled over them (docs/operate.md "Rotate a key").
 */
export async function judgeWatch(tick: Pick<TickContext, 'blobs'>, opts: QuorumOptions, raw: Watch, records: RecordCache): Promise<WatchVerdict> {
  const wo = watchOptionsFor(opts, raw.skill);
  const { watch: w, standing, members } = await linkedWatch(tick.blobs, raw, records);
  const baselines = new Map<string, Baseline | null>();
  // The baseline's days only: the months holding them are all that is read.
  const span = { from: new Date(w.promotedAt - (wo.baselineDays + 1) * DAY).toISOString().slice(0, 10), to: new Date(w.promotedAt).toISOString().slice(0, 10) };
  for (const [tenant, t] of Object.entries(w.tenants)) {
    if (t.adopted === undefined) continue;
    let pooled: DailySummary | null = null;
    for (const id of members.get(tenant) ?? [tenant]) {
      const daily = await readDaily(tick.blobs, w.skill, id, undefined, span);
      if (!daily) continue;
      if (!pooled) pooled = { ...daily, days: { ...daily.days } };
      else for (const [day, [n, sum, sq]] of Object.entries(daily.days)) {
        const d = pooled.days[day] ?? [0, 0, 0];
        pooled.days[day] = [d[0] + n, d[1] + sum, d[2] + sq];
      }
    }
    baselines.set(tenant, baselineOf(pooled, w.promotedAt, wo.baselineDays));
  }
  return judge(w, baselines, standing, wo, thresholdsFor(opts, w.skill), opts.admittedOnly);
}

/**
 * Tenants whose shared page (`snappy-tenants/<tenant>/skills/<skill>.md`) is the promoted rev
 * now: adopted from this tick on (the Worker notes a push at the moment it takes it; in direct
 * mode the tick is the first to see it). A page is read only when its etag changed since the
 * tick last looked. Tenants are those with runs of the skill since the promotion (the watch
 * holds them), those that evaluated the rev, and those with runs of any skill in the baseline's
 * period or since (one listing of the monthly summaries' keys; summaries are per tenant, not per
 * skill) or a summary of the skill in the layout of an earlier release (one listing).
 */
async function observeAdoption(tick: TickContext, opts: QuorumOptions, w: Watch, ref: WatchRef): Promise<boolean> {
  const { blobs } = tick;
  const tenants = new Set(Object.keys(w.tenants));
  // The tenants that evaluated the rev are the likeliest to adopt it, runs of the page or not yet.
  const tally = await readTally(blobs, w.skill, w.rev).catch(nullIfMalformed);
  for (const t of Object.keys(tally?.tenants ?? {})) tenants.add(t);
  const since = new Date(w.promotedAt - (watchOptionsFor(opts, w.skill).baselineDays + 1) * DAY).toISOString().slice(0, 7);
  for (const t of await tenantsSummarizedSince(blobs, since)) tenants.add(t);
  for await (const o of blobs.list(`${Remote.dailyPrefix}${w.skill}/`)) {
    const m = /^([0-9a-f]{12})\.json$/.exec(o.key.slice(`${Remote.dailyPrefix}${w.skill}/`.length));
    if (m) tenants.add(m[1]!);
  }
  let changed = false;
  for (const tenant of tenants) {
    const t = w.tenants[tenant];
    if (t?.adopted !== undefined) continue;
    const key = Remote.tenantSkill(tenant, w.skill);
    const info = await blobs.head(key);
    if (!info || (info.etag && info.etag === t?.page)) continue;
    const bytes = await blobs.get(key);
    if (!bytes) continue;
    if ((await revIdOf(bytes)) === w.rev) changed = (await adopt(blobs, ref, tenant, tick.now, 'tick')) || changed;
    else if (info.etag) {
      await notePageSeen(blobs, ref, tenant, info.etag);
      changed = true;
    }
  }
  return changed;
}
