/** Paths inside a state dir (SPEC §4), relative and POSIX. */
export const State = {
  skillsDir: 'skills/',
  skill: (skill: string) => `skills/${skill}.md`,
  /** Raw eval rows. Never leaves the machine. */
  evalLog: 'log/evals.ndjson',
  /** Anonymized rows of all tenants (union). */
  aggregate: 'log/evals.aggregate.ndjson',
  regenQueueDir: 'log/regen-queue/',
  brief: (skill: string, machine: string) => `log/regen-queue/${skill}.${machine}.md`,
  readyDir: 'ready/',
  marker: (skill: string) => `ready/${skill}.ready`,
  stagingDir: 'staging/',
  stagedDir: (skill: string, rev: string) => `staging/${skill}/${rev}/`,
  stagedPage: (skill: string, rev: string) => `staging/${skill}/${rev}/${skill}.md`,
  canonicalDir: (skill: string) => `canonical/${skill}/`,
  /** Cursors, manifests, controller state, locks. Never synced. */
  internalDir: '.snappy/',
  internal: (name: string) => `.snappy/${name}`,
} as const;

/** What never leaves the machine, whatever any config or plugin says (SPEC §9). */
export const HARD_DENY: readonly string[] = ['log/evals.ndjson', 'ready/', '.snappy/'];

/** True when `rel` (relative, POSIX) is under the hard deny. */
export function isHardDenied(rel: string): boolean {
  const p = rel.replace(/^\.\//, '');
  return HARD_DENY.some((d) => (d.endsWith('/') ? p === d.slice(0, -1) || p.startsWith(d) : p === d));
}
