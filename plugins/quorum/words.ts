import type { Thresholds } from './rule.ts';
import type { QuorumTickReport } from './tick.ts';

/** `1 run`, `6 runs`. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Endorsing tenants against the quorum: `2 of 3 tenants endorse`, or `4 tenants endorse, 3 needed` once past it. */
export function tenantsWords(endorsing: number, minTenants: number): string {
  return endorsing <= minTenants ? `${endorsing} of ${count(minTenants, 'tenant')} endorse${endorsing === 1 ? 's' : ''}` : `${count(endorsing, 'tenant')} endorse, ${minTenants} needed`;
}

/** Runs against what is needed: `6 runs, 5 needed` (never a fraction like 6/5). */
export function runsWords(runs: number, needed: number): string {
  return `${count(runs, 'run')}, ${needed} needed`;
}

/**
 * Where a rev stands, to be read at a glance: `2 of 3 tenants endorse; 4 runs, 5 needed; mean
 * 0.915`. The runs are the endorsing tenants' (what the rule counts); the mean is over all runs.
 */
export function progressWords(p: { endorsing: number; endorsingRuns: number; mean: number | null }, t: Pick<Thresholds, 'minTenants' | 'minRuns'>): string {
  const mean = p.mean;
  return `${tenantsWords(p.endorsing, t.minTenants)}; ${runsWords(p.endorsingRuns, t.minRuns)}${mean === null || mean === undefined ? '' : `; mean ${mean.toFixed(3)}`}`;
}

/**
 * What a quorum tick did, for a person: a summary line, then one line per rev it decided or
 * advanced (where its quorum stands, or why it was quarantined or could not be read), then
 * one per object it skipped. `snappy run tick` prints these; the Worker logs them.
 */
export function tickLines(q: QuorumTickReport): { info: string[]; warn: string[] } {
  const s = q.scan;
  const head = `tick: ${count(s.batches, 'new batch', 'new batches')} (${count(s.rows, 'row')}${s.unstaged ? `, ${s.unstaged} of revs not staged, dropped` : ''}${s.invalid ? `, ${s.invalid} invalid` : ''}), ${count(q.promoted.length + q.completed.length, 'promotion')}, ${count(q.revs.length, 'rev')} decided or advanced${q.partial ? `; stopped at its deadline, ${count(s.backlog, 'batch', 'batches')} wait for the next tick` : ''}`;
  const info = [head];
  for (const r of q.revs) {
    const gate = r.manualReview ? `; waits for an operator (manual review: ${r.manualReview})` : '';
    info.push(`  ${r.rev} ${r.outcome}: ${r.progress && r.outcome !== 'quarantined' && r.outcome !== 'incomplete' ? `${r.progress.words}${gate}` : r.reason}`);
  }
  return { info, warn: q.problems.map((p) => `  skipped ${p.key}: ${p.reason}`) };
}
