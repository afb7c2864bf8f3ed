import { formatPage } from '../../domain/frontmatter.ts';
import { fenced, type BriefInput } from './brief.ts';
import { dayOf, MIN_SHARED_RUNS, type SharedSummary } from './score-digest.ts';

/**
 * The shared brief, `log/regen-queue/<skill>.<machine_id>.md`, which syncs to every tenant.
 * Each aggregate row already names a tenant, a time to the millisecond, a score and an HMAC
 * run id, so anything per run here could be joined to one and tie a run to this machine. It
 * therefore holds summaries only: counts, and from at least MIN_SHARED_RUNS runs a mean,
 * quartiles and an ok rate rounded to 0.01, over days, never a time of day. The page text is
 * given only when that page is already shared (canonical or staged); else just its rev id.
 */
export function formatSharedBrief(b: BriefInput): string {
  const controller = coarseSnapshot(b.snapshot);
  const reason = coarseReason(controller, b.skill);
  const data = {
    skill: b.skill,
    machine_id: b.machine,
    base_rev: b.baseRev,
    created: dayOf(b.created),
    outcome: 'pending',
    reason,
    controller,
    local: b.evals.local.shared,
    fleet: b.evals.fleet.shared,
    page: b.baseRev === null ? 'none' : b.pageShared ? 'shared' : 'not shared',
  };
  const page =
    b.page === null || b.baseRev === null
      ? '(this machine has no page for the skill yet)'
      : b.pageShared
        ? `Rev ${b.baseRev}, already shared (canonical or staged):\n\n${fenced(b.page)}`
        : `Rev ${b.baseRev}. This page has not been shared (it is neither canonical nor staged), so only its rev id is given here.`;
  const body = [
    '',
    `# Regen brief: ${b.skill}`,
    '',
    `On ${dayOf(b.created)} the PID loop on machine ${b.machine} asked for a new revision of \`${b.skill}\`: ${reason}.`,
    '',
    `This is the shared brief: summaries only, from at least ${MIN_SHARED_RUNS} runs, scores rounded to 0.01 and times to the day. The regen agent on that machine worked from a local brief that never leaves it.`,
    '',
    '## Current page',
    '',
    page,
    '',
    '## Scores',
    '',
    summaryTable([
      ['this machine, recent runs', b.evals.local.shared],
      [`fleet aggregate, ${b.evals.fleet.shared.tenants} tenant(s)`, b.evals.fleet.shared],
    ]),
    '',
  ].join('\n');
  return formatPage(data, body);
}

/** The controller's state as shared: rounded to 0.01, its time to the day, no score figure from fewer than MIN_SHARED_RUNS runs. */
export function coarseSnapshot(snapshot: object | null | undefined): Record<string, number | string | null> {
  const s = (snapshot ?? {}) as Record<string, unknown>;
  const count = (k: string) => (typeof s[k] === 'number' && Number.isInteger(s[k]) && (s[k] as number) >= 0 ? (s[k] as number) : null);
  const num = (k: string) => (typeof s[k] === 'number' && Number.isFinite(s[k]) ? Math.round((s[k] as number) * 100) / 100 : null);
  const runs = count('runs');
  const out: Record<string, number | string | null> = { runs, runsSinceRegen: count('runsSinceRegen'), setpoint: num('setpoint'), on: num('on'), off: num('off') };
  if (runs !== null && runs >= MIN_SHARED_RUNS) for (const k of ['filtered', 'error', 'output', 'p', 'i', 'd']) out[k] = num(k);
  out.day = typeof s.at === 'string' ? dayOf(s.at) : null;
  return out;
}

/** Why the regen was asked for, in the coarse snapshot's numbers (a hand-made marker's own text is not shared). */
function coarseReason(c: Record<string, number | string | null>, skill: string): string {
  if (typeof c.output === 'number' && typeof c.filtered === 'number') {
    return `output ${c.output} reached ${c.on} (filtered score ${c.filtered} below setpoint ${c.setpoint}) after ${c.runsSinceRegen} runs since the last regen`;
  }
  if (c.runs !== null) return `the controller asked after ${c.runs} runs`;
  return `ready/${skill}.ready was created by hand`;
}

function summaryTable(rows: [string, SharedSummary][]): string {
  const cell = (x: number | string | null) => (x === null ? '–' : String(x));
  const lines = ['| runs of | count | mean | p25 | median | p75 | ok rate | days |', '|---|---|---|---|---|---|---|---|'];
  for (const [what, s] of rows) {
    const days = s.from === null ? '–' : s.from === s.to ? s.from : `${s.from} to ${s.to}`;
    lines.push(`| ${what} | ${s.runs} | ${cell(s.mean)} | ${cell(s.p25)} | ${cell(s.p50)} | ${cell(s.p75)} | ${cell(s.okRate)} | ${days} |`);
  }
  return lines.join('\n');
}

/**
 * The outcome fields as the shared brief records them: what became of the regen, with its
 * time to the day. The error text stays in the local brief: an agent's stderr can hold
 * anything it read.
 */
export function sharedOutcome(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'error') continue;
    out[k] = k === 'finished' && typeof v === 'string' ? dayOf(v) : v;
  }
  return out;
}
