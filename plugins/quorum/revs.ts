import type { BlobStore, KV } from '../../core/ports.ts';
import { Remote } from '../../domain/layout.ts';
import { isRevId, isSkillName } from '../../domain/names.ts';
import { nullIfMalformed, readJson } from '../../domain/json-store.ts';
import { logReader, promotionOf, readEntry, type ChangelogEntry, type ProblemSink, type RevHistory } from '../../domain/changelog.ts';
import { changelogIndex, type ChangelogIndex } from './changelog.ts';
import { KvKeys } from './kv-keys.ts';
import { expiryMsFor, gateOptionsFor, isGatedSkill, type QuorumOptions, thresholdsFor } from './options.ts';
import { expiryEntryOf, revExpiry, sinceOf, type RevExpiry } from './expiry.ts';
import { compareWithCanonical, type RegressionCheck } from './regression.ts';
import { decide, defaultRule, progressOf, type Progress, type Thresholds } from './rule.ts';
import { countedTally, recordCache } from './identity.ts';
import { emptyTally, readTally, type Tally } from './tally.ts';
import { quarantineOf, type Quarantine } from './verify.ts';

/** A staged rev named by skill and rev id. */
export interface RevRef {
  skill: string;
  rev: string;
}

/** A rejection an operator recorded (`snappy ops reject`, /snappy-ops). */
export interface Rejection {
  ts: string;
  by: string;
  reason: string;
}

/** Where one staged rev stands, for status, /v1/status and /snappy-ops. */
export interface RevStatus extends Progress {
  /** `promoted`: promoted (canonical now, or replaced since); `rolled-back`: marked by a rollback until an operator clears it. */
  state: 'pending' | 'gated' | 'promoted' | 'rolled-back' | 'expired' | 'rejected' | 'quarantined' | 'unreadable';
  /** Why the rev is gated: the `manual_review` name from its page's frontmatter, or the config glob. */
  manualReview: string | null;
  /** Why the rev was quarantined (its bytes no longer match its manifest, ...). */
  quarantine: Quarantine | null;
  thresholds: Thresholds;
  /** The rule's verdict on the tallies as they stand. */
  decision: { promote: boolean; reason: string };
  /** Its newest promote entry. */
  promotion: ChangelogEntry | null;
  /** The rollback entry that marked it (while marked). */
  rollback: ChangelogEntry | null;
  /** Where it stands in its skill's history: promoted, rolled back, or cleared (promotable again). */
  history: RevHistory | null;
  /** Pinned by an operator: never rolled back automatically. */
  pinned: boolean;
  /** The canonical page of its skill now. */
  canonical: boolean;
  rejection: Rejection | null;
  /** Runs per score decile [0-0.1), ..., [0.9-1.0]: the fleet's score distribution for the chart. */
  histogram: number[];
  /** Its expiry: when the clock started, when it expires (or expired, with its last progress), a revive. */
  expiry: RevExpiry;
  /** The regression gate's comparison with the canonical it would replace; null when the skill did not opt in (or the rev is decided). */
  regression: RegressionCheck | null;
}

/** Every staged rev, in key order, from one listing of `snappy-os-staging/`. */
export async function listStagedRevs(blobs: BlobStore): Promise<RevRef[]> {
  const out: RevRef[] = [];
  let last = '';
  for await (const o of blobs.list(Remote.stagingPrefix)) {
    const [skill, rev] = o.key.slice(Remote.stagingPrefix.length).split('/');
    if (!isSkillName(skill) || !isRevId(rev)) continue;
    const id = `${skill}:${rev}`;
    if (id !== last) out.push({ skill, rev });
    last = id;
  }
  return out;
}

/** What the tick and status need to know of every rev's history: the changelog's index, rejections, quarantines. */
export interface PromotionIndex {
  changelog: ChangelogIndex;
  rejected: Set<string>;
  quarantined: Set<string>;
}

/** Three listings (the changelog with its done markers, rejections, quarantines), whatever the history. */
export async function promotionIndex(blobs: BlobStore, problem?: ProblemSink): Promise<PromotionIndex> {
  const ids = async (prefix: string) => {
    const s = new Set<string>();
    for await (const o of blobs.list(prefix)) {
      const m = /^([^/]+)\/([0-9a-f]{12})\.json$/.exec(o.key.slice(prefix.length));
      if (m) s.add(`${m[1]}:${m[2]}`);
    }
    return s;
  };
  const [changelog, rejected, quarantined] = await Promise.all([changelogIndex(blobs, problem), ids(Remote.rejectionPrefix), ids(Remote.quarantinePrefix)]);
  return { changelog, rejected, quarantined };
}

/** The `manual_review` name in the staged page's frontmatter (a non-empty string), or null. */
export async function manualReviewOf(blobs: BlobStore, skill: string, rev: string): Promise<string | null> {
  const page = await blobs.get(Remote.staged(skill, rev));
  if (!page) return null;
  // The YAML parser loads only for a staged rev: a run that never meets one (every push) skips it.
  const { parsePage } = await import('../../domain/frontmatter.ts');
  const parsed = parsePage(new TextDecoder().decode(page));
  // A gate we cannot read is still a gate: a page whose frontmatter does not parse waits for an operator.
  if (parsed.error) return `(unreadable: ${parsed.error})`;
  const v = parsed.data.manual_review;
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

/** Why a rev is gated: its page's `manual_review`, or the config's manual-review globs; null when it is not. */
export async function gateOf(blobs: BlobStore, opts: QuorumOptions, skill: string, rev: string): Promise<string | null> {
  return (await manualReviewOf(blobs, skill, rev).catch(() => null)) ?? (isGatedSkill(opts, skill) ? 'config quorum.manualReview' : null);
}

export function histogramOf(tally: Tally): number[] {
  const h = new Array<number>(10).fill(0);
  for (const runs of Object.values(tally.tenants)) for (const s of Object.values(runs)) h[Math.min(9, Math.floor(s * 10))]!++;
  return h;
}

/** The full status of some staged revs (all of them when `only` is absent), as of `now`. */
export async function revStatuses(blobs: BlobStore, opts: QuorumOptions, only?: readonly RevRef[], now = Date.now()): Promise<RevStatus[]> {
  const [revs, idx] = await Promise.all([only ? Promise.resolve([...only]) : listStagedRevs(blobs), promotionIndex(blobs)]);
  const out: RevStatus[] = [];
  const records = recordCache();
  // A malformed object is shown as such; it never hides the other revs.
  const soft = <T,>(p: Promise<T | null>): Promise<T | null> => p.catch(nullIfMalformed);
  const logOf = logReader(blobs);
  for (const { skill, rev } of revs) {
    const id = `${skill}:${rev}`;
    const thresholds = thresholdsFor(opts, skill);
    const history = idx.changelog.skills.get(skill)?.revs.get(rev) ?? null;
    const gate = gateOptionsFor(opts, skill);
    const log = history || gate || idx.changelog.skills.get(skill)?.pins.has(rev) ? await logOf(skill) : null;
    const [tally, manualReview, promotion, rejection, quarantine] = await Promise.all([
      readTally(blobs, skill, rev).catch(nullIfMalformed),
      gateOf(blobs, opts, skill, rev),
      log && history && history !== 'expired' && history !== 'revived' ? soft(promotionOf(blobs, log, rev)) : Promise.resolve(null),
      idx.rejected.has(id) ? soft(readJson<Rejection>(blobs, Remote.rejection(skill, rev))) : Promise.resolve(null),
      idx.quarantined.has(id) ? quarantineOf(blobs, skill, rev) : Promise.resolve(null),
    ]);
    const rolledBackBy = log && promotion && history === 'rolled-back' ? log.rollbacks[String(promotion.seq)] : undefined;
    const rollback = log && rolledBackBy ? await soft(readEntry(blobs, log, rolledBackBy)) : null;
    const t = tally ?? emptyTally(skill, rev);
    const counted = await countedTally(blobs, t, !!opts.admittedOnly, records);
    const progress = progressOf(counted.tally, thresholds, counted.standing);
    const d = decide(opts.rule ?? defaultRule, progress, thresholds);
    const state = history === 'promoted' ? 'promoted' : history === 'rolled-back' ? 'rolled-back' : quarantine ? 'quarantined' : rejection ? 'rejected' : history === 'expired' ? 'expired' : !tally ? 'unreadable' : manualReview ? 'gated' : 'pending';
    const open = state === 'pending' || state === 'gated' || state === 'unreadable';
    const since = await sinceOf(blobs, skill, rev).catch(nullIfMalformed);
    const expiryEntry = history === 'expired' || history === 'revived' || history === 'cleared' ? await expiryEntryOf(blobs, log, rev) : null;
    const expiry = revExpiry(expiryMsFor(opts, skill), since, open || state === 'expired' ? (history ?? null) : 'promoted', expiryEntry, now);
    const regression = gate && open ? await compareWithCanonical(blobs, counted.tally, counted.standing, log, since, gate) : null;
    out.push({ ...progress, state, manualReview, quarantine, thresholds, decision: { promote: d.promote, reason: d.reason }, promotion, rollback, history, pinned: !!log?.pins.includes(rev), canonical: log?.canonical?.rev_id === rev, rejection, histogram: histogramOf(t), expiry, regression });
  }
  return out;
}

/** KV `last_quorum_promotion`, parsed; null before the first promotion. */
export async function lastPromotion(kv: KV): Promise<Record<string, unknown> | null> {
  const v = await kv.get(KvKeys.lastPromotion);
  return v ? (JSON.parse(v) as Record<string, unknown>) : null;
}

/** KV `last_quorum_rollback`, parsed; null before the first rollback. */
export async function lastRollback(kv: KV): Promise<Record<string, unknown> | null> {
  const v = await kv.get(KvKeys.lastRollback);
  return v ? (JSON.parse(v) as Record<string, unknown>) : null;
}
