/** Paths inside a state dir (docs/contract.md §4), relative and POSIX. */
export const State = {
  skillsDir: 'skills/',
  skill: (skill: string) => `skills/${skill}.md`,
  /** Raw eval rows. Never leaves the machine. */
  evalLog: 'log/evals.ndjson',
  /** Anonymized rows of all tenants (union). */
  aggregate: 'log/evals.aggregate.ndjson',
  regenQueueDir: 'log/regen-queue/',
  /** The shared brief: summaries only, synced to every tenant. */
  brief: (skill: string, machine: string) => `log/regen-queue/${skill}.${machine}.md`,
  /** The local brief the regen agent works from (worst runs, the page): never synced. */
  localBrief: (skill: string) => `.snappy/briefs/${skill}.md`,
  readyDir: 'ready/',
  marker: (skill: string) => `ready/${skill}.ready`,
  stagingDir: 'staging/',
  stagedDir: (skill: string, rev: string) => `staging/${skill}/${rev}/`,
  stagedPage: (skill: string, rev: string) => `staging/${skill}/${rev}/${skill}.md`,
  canonicalDir: (skill: string) => `canonical/${skill}/`,
  /** What this machine learned at its pulls about the fates of the staged revs it holds (domain/rev-fates.ts). */
  revFates: '.snappy/rev-fates.json',
  /** Cursors, manifests, controller state, locks. Never synced. */
  internalDir: '.snappy/',
  internal: (name: string) => `.snappy/${name}`,
  /** The lock every command that writes the state dir holds. */
  lock: '.snappy/lock',
  /** The state dir's version and the tenant that last wrote it (domain/versions.ts). */
  stateMarker: '.snappy/state.json',
  /** How this machine's last push went, for `snappy doctor`. */
  lastPush: '.snappy/last-push.json',
} as const;

/**
 * What never leaves the machine, whatever any config or plugin says (docs/contract.md §9), as documentation;
 * `isHardDenied` is the rule. The raw log is denied under every name its copies get.
 */
export const HARD_DENY: readonly string[] = ['log/evals.ndjson', 'log/evals*', '**/evals*ndjson*', 'ready/', '.snappy/'];

/** True when `rel` (relative, POSIX) is under the hard deny. Case-insensitive: some file systems are. */
export function isHardDenied(rel: string): boolean {
  const p = normalName(rel);
  if (p === 'ready' || p.startsWith(State.readyDir) || p === '.snappy' || p.startsWith(State.internalDir)) return true;
  return rawLogName(p);
}

/** `rel` without leading `./`, lower-cased (a sync asks for every file in the state dir). */
function normalName(rel: string): string {
  return (rel.startsWith('./') ? rel.replace(/^(\.\/)+/, '') : rel).toLowerCase();
}

/**
 * The raw eval log under any name a rotation, a backup, an editor or a copy gives it:
 * `log/evals.ndjson.1`, `.2.gz`, `-20261130`, `.bak`, `~`, `log/.evals.ndjson.swp`,
 * `old/evals.ndjson`... Everything in `log/` whose name starts with `evals` is one, except the
 * aggregate itself; elsewhere, any `evals…ndjson…` file name that is not an aggregate copy.
 */
export function isRawLogName(rel: string): boolean {
  return rawLogName(normalName(rel));
}

function rawLogName(p: string): boolean {
  // Every name below holds `evals`; most paths in a state dir do not (a push asks for each).
  if (p === State.aggregate || !p.includes('evals')) return false;
  if (p.startsWith('log/evals')) return true;
  const base = p.slice(p.lastIndexOf('/') + 1).replace(/^[.#~]+/, '');
  return /^evals\b.*ndjson/.test(base) && !base.startsWith('evals.aggregate.');
}
