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
  /** One create-only object per promotion: the exactly-once record and the changelog row. */
  changelogPrefix: 'snappy-os/changelog/',
  changelog: (skill: string, rev: string) => `snappy-os/changelog/${skill}/${rev}.json`,
  /** Aggregate batches, per tenant, immutable and create-only: `snappy-agg/<tenant>/<batch>.ndjson`. */
  aggregatePrefix: 'snappy-agg/',
  aggregateBatch: (tenant: string, batch: string) => `snappy-agg/${tenant}/${batch}.ndjson`,
  /** Shared regen briefs, per tenant and machine: `snappy-briefs/<tenant>/<skill>.<machine_id>.md`. */
  briefsPrefix: 'snappy-briefs/',
  tenantBriefsPrefix: (tenant: string) => `snappy-briefs/${tenant}/`,
  brief: (tenant: string, skill: string, machine: string) => `snappy-briefs/${tenant}/${skill}.${machine}.md`,
  /** A tenant's own skill pages, shared among its machines. */
  tenantSkillsPrefix: (tenant: string) => `snappy-tenants/${tenant}/skills/`,
  tenantSkill: (tenant: string, skill: string) => `snappy-tenants/${tenant}/skills/${skill}.md`,
  /** Other state files a tenant allows (sync.allow) beyond the SPEC's defaults, shared among its machines. */
  tenantFilesPrefix: (tenant: string) => `snappy-tenants/${tenant}/files/`,
  tenantFile: (tenant: string, rel: string) => `snappy-tenants/${tenant}/files/${rel}`,
  /** The file/S3 remote's stand-in for Worker KV. */
  kvPrefix: 'snappy-kv/',
  /**
   * Time-ordered index of batches stored by the Worker, one folder per UTC hour so a reader
   * lists only the recent ones: `snappy-agg-index/<YYYYMMDDHH>/<ts13>-<tenant>-<batch>` (body: the batch key).
   */
  aggregateIndexPrefix: 'snappy-agg-index/',
  aggregateIndexHour: (ts: number) => `snappy-agg-index/${new Date(Math.max(0, ts)).toISOString().slice(0, 13).replace(/[-T]/g, '')}/`,
  aggregateIndex: (ts: number, tenant: string, batch: string) =>
    `snappy-agg-index/${new Date(Math.max(0, ts)).toISOString().slice(0, 13).replace(/[-T]/g, '')}/${String(Math.max(0, Math.floor(ts))).padStart(13, '0')}-${tenant}-${batch}`,
  /** Quorum bookkeeping: per-rev tallies, the batch scan state, finished promotions, rejections. */
  quorumPrefix: 'snappy-quorum/',
  tally: (skill: string, rev: string) => `snappy-quorum/tally/${skill}/${rev}.json`,
  quorumScan: 'snappy-quorum/scan.json',
  promotionDonePrefix: 'snappy-quorum/done/',
  promotionDone: (skill: string, rev: string) => `snappy-quorum/done/${skill}/${rev}.json`,
  rejectionPrefix: 'snappy-quorum/rejected/',
  rejection: (skill: string, rev: string) => `snappy-quorum/rejected/${skill}/${rev}.json`,
} as const;
