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
  /** Regen briefs, per machine: `snappy-briefs/<skill>.<machine_id>.md`. */
  briefsPrefix: 'snappy-briefs/',
  brief: (skill: string, machine: string) => `snappy-briefs/${skill}.${machine}.md`,
  /** A tenant's own skill pages, shared among its machines. */
  tenantSkillsPrefix: (tenant: string) => `snappy-tenants/${tenant}/skills/`,
  tenantSkill: (tenant: string, skill: string) => `snappy-tenants/${tenant}/skills/${skill}.md`,
  /** The file/S3 remote's stand-in for Worker KV. */
  kvPrefix: 'snappy-kv/',
} as const;
