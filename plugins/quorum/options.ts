import { z } from 'zod';
import { lazySchema } from '../../core/lazy-schema.ts';
import { GlobList, globSchema } from '../../domain/glob.ts';
import { isSkillName } from '../../domain/names.ts';
import type { QuorumRule, Thresholds } from './rule.ts';

/** The defaults of the regression gate once a skill opts in; README "Expiry and the regression gate". */
export const GATE_DEFAULTS = { margin: 0.05, minTenants: 1 } as const;

/** The default expiry of a staged rev, in days. */
export const EXPIRY_DAYS = 14;

/** The defaults of the post-promotion watch; README "Watch and rollback" gives the reasons. */
export const WATCH_DEFAULTS = { enabled: true, minRuns: 10, margin: 0.1, floor: 0.5, graceMs: 15 * 60_000, days: 14, baselineDays: 28, pinApprovals: false } as const;

/** The `quorum` config section's schema, made when first used. */
function makeQuorumOptions() {
  const thresholds = {
    /** Distinct tenants that must endorse (default 3). */
    minTenants: z.number().int().min(1),
    /** Runs the endorsing tenants must have made in total (default 5). */
    minRuns: z.number().int().min(1),
    /** A tenant endorses when the mean score of its runs is at least this (default 0.85). */
    minScore: z.number().min(0).max(1),
  };

  const perSkill = {
    /**
     * Days a staged rev may wait for its promotion before it expires (default 14; 0: never). The
     * clock starts when the quorum first saw the rev, and again when an operator revives it.
     */
    expiryDays: z.number().min(0).max(3650),
  };

  const regressionGate = {
    /** The rev's mean may be below the canonical's by at most this (0..1, default 0.05). */
    margin: z.number().min(0).max(1),
    /** Tenants that scored both the rev and the canonical needed for a comparison (default 1). */
    minTenants: z.number().int().min(1),
  };

  const watch = {
    /** Watch each promotion at all (default true). */
    enabled: z.boolean(),
    /** Runs a tenant must have made with the page since adopting it before it may object (default 10). */
    minRuns: z.number().int().min(1),
    /** A tenant objects when its mean since adoption is below its own baseline by more than this (default 0.1). */
    margin: z.number().min(0).max(1),
    /** ... or below this, whatever its baseline (default 0.5). */
    floor: z.number().min(0).max(1),
    /** Runs count from this long after a tenant adopted the page (ms, default 15 minutes). */
    graceMs: z.number().int().min(0).max(7 * 86_400_000),
    /** How long after its promotion a page is watched (days, default 14). */
    days: z.number().min(0).max(365),
    /** How many days before the promotion make a tenant's baseline (default 28). */
    baselineDays: z.number().int().min(1).max(365),
    /** Pin revs an operator approves (no automatic rollback; default false: approvals are watched too). */
    pinApprovals: z.boolean(),
  };

  return z
    .object({
      minTenants: thresholds.minTenants.default(3),
      minRuns: thresholds.minRuns.default(5),
      minScore: thresholds.minScore.default(0.85),
      /** The post-promotion watch: when tenants object to a promoted page, and how the rollback decides. */
      watch: z.object(watch).partial().strict().default({}),
      expiryDays: perSkill.expiryDays.default(EXPIRY_DAYS),
      /**
       * No regression on the way in (opt-in): a rev is promoted by quorum only when, on the tenants
       * that scored both it and the current canonical since the later of the rev's staging and the
       * canonical's promotion, its mean is not below the canonical's by more than `margin`. `false`
       * (the default) or absent: no comparison. Per skill too (`skills.<name>.regressionGate`).
       */
      regressionGate: z.union([z.literal(false), z.object(regressionGate).partial().strict()]).default(false),
      /** Per-skill thresholds (and watch, expiry and regression gate settings), merged over the ones above. */
      skills: z
        .record(z.string().refine(isSkillName, 'expected a skill name'), z.object({ ...thresholds, ...perSkill, watch: z.object(watch).partial().strict(), regressionGate: z.union([z.literal(false), z.object(regressionGate).partial().strict()]) }).partial().strict())
        .default({}),
      /** Replaces the decision: (progress, thresholds) => { promote, reason }. See docs/worker.md. */
      rule: z.custom<QuorumRule>((v) => typeof v === 'function', { message: 'expected a function (progress, thresholds) => ({ promote, reason })' }).optional(),
      /**
       * Also list every batch key each tick to find batches tenants wrote to the bucket directly
       * (no Worker). Costs one listing of `snappy-agg/` per tick; turn off when every tenant ships
       * through the Worker, and the tick's cost depends on new batches only.
       */
      discover: z.boolean().default(true),
      /**
       * Count only tenants admitted in the registry (and not revoked) toward a quorum. The Worker
       * always sets it: in Worker mode only admitted tenants' authenticated batches count.
       */
      admittedOnly: z.boolean().default(false),
      /**
       * Skills whose revs always wait for an operator, whatever their pages say (globs on skill
       * names, picomatch's dialect: `deploy-*`, `{deploy,release}-*`, `!docs-*`). A rev is also
       * gated when its page's frontmatter has a non-empty `manual_review`.
       */
      manualReview: z.array(globSchema()).default([]),
      /**
       * Declares that one tick runner is the only writer of the store, for a store that does not
       * enforce conditional writes (s3rver, some S3-compatible servers): the tick then goes on
       * with a warning instead of refusing, and the Worker stops evaluating revs at ingest.
       */
      singleWriter: z.boolean().default(false),
      /** Moved: the budget is the tick's, for every plugin that taps it. */
      budgetMs: z.never({ error: 'quorum.budgetMs moved to tick.budgetMs (the budget of every tick, in the Worker and in snappy run tick)' }).optional(),
    })
    .strict();
}

/** The `quorum` config section. */
export const quorumOptions = lazySchema(makeQuorumOptions, 'quorum.options');

export type QuorumOptions = z.output<typeof quorumOptions>;

/** True when config `manualReview` gates every rev of `skill`. */
export function isGatedSkill(opts: QuorumOptions, skill: string): boolean {
  return gatedSkills(opts.manualReview).matches(skill);
}

const compiled = new WeakMap<readonly string[], GlobList>();

/** The tick asks once per rev: compile each config's list once. */
function gatedSkills(globs: readonly string[]): GlobList {
  let list = compiled.get(globs);
  if (!list) compiled.set(globs, (list = new GlobList(globs)));
  return list;
}

/** The thresholds that apply to `skill`. */
export function thresholdsFor(opts: QuorumOptions, skill: string): Thresholds {
  const o = opts.skills[skill] ?? {};
  return { minTenants: o.minTenants ?? opts.minTenants, minRuns: o.minRuns ?? opts.minRuns, minScore: o.minScore ?? opts.minScore };
}

/** The watch settings of one skill. */
export type WatchOptions = { -readonly [K in keyof typeof WATCH_DEFAULTS]: (typeof WATCH_DEFAULTS)[K] extends boolean ? boolean : number };

/** The watch settings that apply to `skill`: its own, over the section's, over the defaults. */
export function watchOptionsFor(opts: QuorumOptions, skill: string): WatchOptions {
  return { ...WATCH_DEFAULTS, ...stripUndefined(opts.watch), ...stripUndefined(opts.skills[skill]?.watch ?? {}) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The regression gate of one skill: its margin and minimum of compared tenants, or null when the skill did not opt in. */
export type GateOptions = { margin: number; minTenants: number };

/** The regression gate that applies to `skill`: its own setting (an object, or `false`) over the section's. */
export function gateOptionsFor(opts: QuorumOptions, skill: string): GateOptions | null {
  const own = opts.skills[skill]?.regressionGate;
  const g = own === undefined ? opts.regressionGate : own;
  if (g === false || g === undefined) return null;
  const base = own !== undefined && own !== false && opts.regressionGate ? stripUndefined(opts.regressionGate) : {};
  return { ...GATE_DEFAULTS, ...base, ...stripUndefined(g) };
}

/** The expiry of `skill`'s staged revs, in ms; null when they never expire. */
export function expiryMsFor(opts: QuorumOptions, skill: string): number | null {
  const days = opts.skills[skill]?.expiryDays ?? opts.expiryDays ?? EXPIRY_DAYS;
  return days > 0 ? days * 86_400_000 : null;
}
