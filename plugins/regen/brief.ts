import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../../adapters/fs.ts';
import { formatPage, setFields } from '../../domain/frontmatter.ts';
import { worstOf, type BriefRun, type SkillEvals } from './evals.ts';
import type { MarkerSnapshot } from './store.ts';

/** What a brief is made of. */
export interface BriefInput {
  skill: string;
  machine: string;
  /** Rev id of the current page, null when the skill has no page here yet. */
  baseRev: string | null;
  created: string;
  reason: string;
  snapshot: MarkerSnapshot | Record<string, unknown>;
  evals: SkillEvals;
  /** The current page's text, or null. */
  page: string | null;
  /** True when the current page is already shared (canonical, or a staged rev). */
  pageShared: boolean;
  worstRuns: number;
}

/**
 * The local brief, the one the regen agent works from: frontmatter with the facts an agent
 * (or a person) needs, body with the current page and the worst recent runs. It stays in
 * `.snappy/briefs/`, which never syncs; the shared brief (shared-brief.ts) is its summary.
 * Even here nothing comes from the raw log beyond what an aggregate row may carry: no run
 * ids, no extra fields, no cost other than whole cents.
 */
export function formatBrief(b: BriefInput): string {
  const data = {
    skill: b.skill,
    machine_id: b.machine,
    base_rev: b.baseRev,
    created: b.created,
    outcome: 'pending',
    reason: b.reason,
    controller: b.snapshot,
    local: b.evals.local.summary,
    fleet: b.evals.fleet.summary,
  };
  const localWorst = worstOf(b.evals.local.recent, b.worstRuns);
  const body = [
    '',
    `# Regen brief: ${b.skill}`,
    '',
    `The PID loop on machine ${b.machine} asks for a new revision of \`${b.skill}\`: ${b.reason}.`,
    '',
    'Print the complete new page on stdout: the frontmatter block (`---` lines) first, then the body.',
    '',
    '## Current page',
    '',
    b.page === null ? '(this machine has no page for the skill yet)' : fenced(b.page),
    '',
    `## Worst recent runs on this machine (${localWorst.length} of the last ${b.evals.local.summary.runs})`,
    '',
    table(localWorst),
    '',
    `## Worst runs in the fleet aggregate (${b.evals.fleet.worst.length} of ${b.evals.fleet.summary.runs}, ${b.evals.fleet.summary.tenants} tenant(s))`,
    '',
    table(b.evals.fleet.worst),
    '',
  ].join('\n');
  return formatPage(data, body);
}

function table(runs: readonly BriefRun[]): string {
  if (runs.length === 0) return '(none)';
  const rows = runs.map((r) => `| ${r.ts} | ${r.score} | ${r.ok} | ${r.cost_usd_cents ?? ''} |`);
  return ['| ts | score | ok | cost_usd_cents |', '|---|---|---|---|', ...rows].join('\n');
}

/** A fence longer than any run of backticks in the page, so the page cannot close it. */
export function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}markdown\n${text.endsWith('\n') ? text : `${text}\n`}${fence}`;
}

export function writeBrief(file: string, text: string): Promise<void> {
  return writeFileAtomic(file, text);
}

/** Rewrites the brief's frontmatter with the outcome of its regen (atomically). */
export async function recordOutcome(file: string, fields: Record<string, unknown>): Promise<void> {
  const text = await fs.readFile(file, 'utf8');
  await writeFileAtomic(file, setFields(text, fields));
}
