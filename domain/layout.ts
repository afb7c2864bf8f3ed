/** `YYYYMMDDHH` (UTC) of an epoch-ms time: the hour folders of time-ordered feeds. */
export function hourOf(ts: number): string {
  return new Date(Math.max(0, ts)).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** A changelog sequence number as keys carry it: 8 digits, so that keys sort by sequence. */
export function seq8(seq: number): string {
  return String(seq).padStart(8, '0');
}

/** Epoch ms, 13 digits, so that keys sort by time. */
export function ts13(ts: number): string {
  return String(Math.max(0, Math.floor(ts))).padStart(13, '0');
}

/**
 * The remote layout: every object key snappy reads or writes, relative to the remote's prefix.
 * The two `snappy-os*` prefixes are fixed by the design; the rest is ours (README "Remote layout").
 */
export const Remote = {
  /** Staged revisions, create-only: `snappy-os-staging/<skill>/<rev_id>/<file>`. */
  stagingPrefix: 'snappy-os-staging/',
  staged: (skill: string, rev: string, file = `${skill}.md`) => `snappy-os-staging/${skill}/${rev}/${file}`,
  stagedDir: (skill: string, rev: string) => `snappy-os-staging/${skill}/${rev}/`,
  /** Public canonical pages, written only by the tick: `snappy-os/skills/<skill>/<file>`. */
  canonicalPrefix: 'snappy-os/skills/',
  canonicalDir: (skill: string) => `snappy-os/skills/${skill}/`,
  /**
   * The changelog: per skill, a sequence of create-only entries (promote, rollback, clear, pin,
   * unpin), `snappy-os/changelog/<skill>/<seq, 8 digits>.json`. Writing entry N create-only is the
   * exactly-once point of whatever it records (domain/changelog.ts).
   */
  changelogPrefix: 'snappy-os/changelog/',
  changelogEntry: (skill: string, seq: number) => `snappy-os/changelog/${skill}/${seq8(seq)}.json`,
  /** A changelog row of a release before the sequence: one per promotion, named by its rev. Read, never written. */
  legacyChangelog: (skill: string, rev: string) => `snappy-os/changelog/${skill}/${rev}.json`,
  /** Per skill, the changelog folded up to its newest entry, advanced by compare-and-swap: `snappy-os/changelog-head/<skill>.json`. */
  changelogHeadPrefix: 'snappy-os/changelog-head/',
  changelogHead: (skill: string) => `snappy-os/changelog-head/${skill}.json`,
  /** Aggregate batches, per tenant, immutable and create-only: `snappy-agg/<tenant>/<batch>.ndjson`. */
  aggregatePrefix: 'snappy-agg/',
  aggregateBatch: (tenant: string, batch: string) => `snappy-agg/${tenant}/${batch}.ndjson`,
  /** Shared regen briefs, per tenant and machine: `snappy-briefs/<tenant>/<skill>.<machine_id>.md`. */
  briefsPrefix: 'snappy-briefs/',
  tenantBriefsPrefix: (tenant: string) => `snappy-briefs/${tenant}/`,
  brief: (tenant: string, skill: string, machine: string) => `snappy-briefs/${tenant}/${skill}.${machine}.md`,
  /**
   * The frozen file manifest of a staged rev (names and SHA-256 of every file), written
   * create-only when the rev is staged: promotion copies exactly these bytes. Kept beside the
   * staging folder, not in it, because canonical becomes exactly the staged folder.
   */
  manifestPrefix: 'snappy-manifests/',
  manifest: (skill: string, rev: string) => `snappy-manifests/${skill}/${rev}.json`,
  /** A tenant's own skill pages, shared among its machines. */
  tenantSkillsPrefix: (tenant: string) => `snappy-tenants/${tenant}/skills/`,
  tenantSkill: (tenant: string, skill: string) => `snappy-tenants/${tenant}/skills/${skill}.md`,
  /**
   * Content hashes of the versions a tenant's page had before its current one, kept by the
   * machines that replace it: a machine joining the tenant adopts the page over a copy of
   * any of them instead of taking that copy for a local edit. JSON `{v, skill, hashes}`.
   */
  tenantPageHistory: (tenant: string, skill: string) => `snappy-tenants/${tenant}/history/${skill}.json`,
  /** Other state files a tenant allows (sync.allow) beyond the defaults of docs/contract.md §4, shared among its machines. */
  tenantFilesPrefix: (tenant: string) => `snappy-tenants/${tenant}/files/`,
  tenantFile: (tenant: string, rel: string) => `snappy-tenants/${tenant}/files/${rel}`,
  /** The file/S3 remote's stand-in for Worker KV. */
  kvPrefix: 'snappy-kv/',
  /**
   * Time-ordered index of batches stored by the Worker, one folder per UTC hour so a reader
   * lists only the recent ones: `snappy-agg-index/<YYYYMMDDHH>/<ts13>-<tenant>-<batch>` (body: the batch key).
   */
  aggregateIndexPrefix: 'snappy-agg-index/',
  aggregateIndexHour: (ts: number) => `snappy-agg-index/${hourOf(ts)}/`,
  aggregateIndex: (ts: number, tenant: string, batch: string) => `snappy-agg-index/${hourOf(ts)}/${ts13(ts)}-${tenant}-${batch}`,
  /**
   * Aggregate segments: the rows of one closed hour of the batch index, compacted by the Worker's
   * cron into create-only parts of about 2 MB, each named by the last index entry it covers
   * (`snappy-agg-seg/<YYYYMMDDHH>/<ts13>-<tenant>-<batch>.ndjson`, rows deduped by (tenant,
   * run_id) within the part), and `done.json` once every part of the hour is there: only an
   * hour with it is served as segments (docs/scale.md "Retention and compaction").
   */
  aggregateSegmentPrefix: 'snappy-agg-seg/',
  aggregateSegmentHour: (hour: string) => `snappy-agg-seg/${hour}/`,
  aggregateSegmentPart: (hour: string, lastEntry: string) => `snappy-agg-seg/${hour}/${lastEntry}.ndjson`,
  aggregateSegmentDone: (hour: string) => `snappy-agg-seg/${hour}/done.json`,
  /** The newest hour compacted so far, `{v, hour}`: where the next compaction starts looking (a hint; done.json is the truth). */
  aggregateCompaction: 'snappy-meta/agg-compaction.json',
  /** Where the Worker keeps, per batch, the index key it first gave it: a retried batch reuses it. */
  aggregateMeta: (tenant: string, batch: string) => `snappy-agg-meta/${tenant}/${batch}.json`,
  /**
   * The Worker's change feed: one entry per write it accepted (pages, briefs, staged revs, a
   * promotion), in hour folders like the batch index, so a pull asks for what changed since its
   * cursor instead of listing history: `snappy-feed/<YYYYMMDDHH>/<ts13>-<id>` (body: JSON).
   */
  feedPrefix: 'snappy-feed/',
  feedHour: (ts: number) => `snappy-feed/${hourOf(ts)}/`,
  feedEntry: (ts: number, id: string) => `snappy-feed/${hourOf(ts)}/${ts13(ts)}-${id}`,
  /** The tenant registry, written only by the Worker (or the operator in direct mode). */
  registryPrefix: 'snappy-registry/',
  registryTenantsPrefix: 'snappy-registry/tenants/',
  registryTenant: (tenant: string) => `snappy-registry/tenants/${tenant}.json`,
  /**
   * Tenants removed after their revocation, `{v, tenants: {<id>: ISO time}}`: their rows still
   * in segments are filtered out when served, and machines drop them from their union.
   */
  registryRemoved: 'snappy-registry/removed.json',
  /** Append-only audit of admissions, revocations and key changes. */
  auditPrefix: 'snappy-registry/audit/',
  audit: (ts: number, id: string) => `snappy-registry/audit/${ts13(ts)}-${id}.json`,
  /** Answers to signed writes, by signature, so a replay inside the window writes nothing. */
  replayPrefix: 'snappy-auth/replay/',
  replayHour: (ts: number) => `snappy-auth/replay/${hourOf(ts)}/`,
  replay: (ts: number, id: string) => `snappy-auth/replay/${hourOf(ts)}/${id}.json`,
  /** Quorum bookkeeping: per-rev tallies, the batch scan state, finished promotions, rejections. */
  quorumPrefix: 'snappy-quorum/',
  tally: (skill: string, rev: string) => `snappy-quorum/tally/${skill}/${rev}.json`,
  quorumScan: 'snappy-quorum/scan.json',
  /** One marker per changelog entry whose effects are all done: `<seq>-<action>-<rev>.json`, so a listing tells the history without a read. */
  promotionDonePrefix: 'snappy-quorum/done/',
  entryDone: (skill: string, seq: number, action: string, rev: string) => `snappy-quorum/done/${skill}/${seq8(seq)}-${action}-${rev}.json`,
  /** The marker of a finished promotion of a release before the sequence. */
  legacyDone: (skill: string, rev: string) => `snappy-quorum/done/${skill}/${rev}.json`,
  rejectionPrefix: 'snappy-quorum/rejected/',
  rejection: (skill: string, rev: string) => `snappy-quorum/rejected/${skill}/${rev}.json`,
  /**
   * When the quorum first saw a staged rev, create-only `{ts}` (written by the first tick that
   * lists the rev): a rev's expiry counts from it (README "Expiry and the regression gate").
   */
  sincePrefix: 'snappy-quorum/since/',
  since: (skill: string, rev: string) => `snappy-quorum/since/${skill}/${rev}.json`,
  /** Revs the tick will never promote: their bytes no longer match what was endorsed. */
  quarantinePrefix: 'snappy-quorum/quarantine/',
  quarantine: (skill: string, rev: string) => `snappy-quorum/quarantine/${skill}/${rev}.json`,
  /** The remote's layout version (domain/versions.ts), written once by the first tick that finds none. */
  layoutMarker: 'snappy-meta/layout.json',
  /**
   * The fleet's health, written by the Worker (or `snappy run tick`): the last tick, each
   * tenant's last request and release, the alerts (docs/operate.md "Watch").
   */
  healthPrefix: 'snappy-health/',
  lastTick: 'snappy-health/tick.json',
  seenPrefix: 'snappy-health/seen/',
  seen: (tenant: string) => `snappy-health/seen/${tenant}.json`,
  alerts: 'snappy-health/alerts.json',
  alertLogPrefix: 'snappy-health/alert-log/',
  alertLog: (ts: number, id: string) => `snappy-health/alert-log/${ts13(ts)}-${id}.json`,
  /** What an operator saw when approving a rev: the diff's id, against which canonical (docs/operate.md "Approve"). */
  approvalPrefix: 'snappy-quorum/approved/',
  approval: (skill: string, rev: string) => `snappy-quorum/approved/${skill}/${rev}.json`,
  /**
   * Daily summaries, one object per tenant and UTC month of the rows' days: per `<skill>` (plain
   * rows) and `<skill>:<rev>` (a rev's runs), per day, count, sum and sum of squares of scores, and
   * the batch ids applied. Written by the Worker's ingest (by the tick in direct mode) by
   * compare-and-swap: `snappy-quorum/tenant-daily/<tenant>/<YYYY-MM>.json` (plugins/quorum/daily.ts).
   */
  tenantDailyPrefix: 'snappy-quorum/tenant-daily/',
  tenantDaily: (tenant: string, month: string) => `snappy-quorum/tenant-daily/${tenant}/${month}.json`,
  /** Per (skill, tenant), the daily summary of a release before the per-tenant months: read (added to them), never written. */
  dailyPrefix: 'snappy-quorum/daily/',
  daily: (skill: string, tenant: string) => `snappy-quorum/daily/${skill}/${tenant}.json`,
  /** Per staged rev and tenant, the same, of a release before the per-tenant months: read, never written. */
  revDailyPrefix: 'snappy-quorum/rev-daily/',
  revDaily: (skill: string, rev: string, tenant: string) => `snappy-quorum/rev-daily/${skill}/${rev}/${tenant}.json`,
  /**
   * The post-promotion watch of one promotion (the changelog entry `seq` of `skill`): adoption
   * per tenant and the runs counted since. `<seq>.closed.json` beside it once it ended.
   */
  watchPrefix: 'snappy-quorum/watch/',
  watch: (skill: string, seq: number) => `snappy-quorum/watch/${skill}/${seq8(seq)}.json`,
  watchClosed: (skill: string, seq: number) => `snappy-quorum/watch/${skill}/${seq8(seq)}.closed.json`,
} as const;
