import type { QuorumTickReport } from './tick.ts';
import { count } from './words.ts';

/**
 * What a quorum tick did, for a person: a summary line, then one line per rev it decided or
 * advanced (where its quorum stands, or why it was quarantined or could not be read).
 * `snappy run tick` prints these; the Worker logs them. Objects it skipped are warned of
 * where they are found.
 */
export function tickLines(q: QuorumTickReport): string[] {
  const s = q.scan;
  const head = `tick: ${count(s.batches, 'new batch', 'new batches')} (${count(s.rows, 'row')}${s.unstaged ? `, ${s.unstaged} of revs not staged, dropped` : ''}${s.invalid ? `, ${s.invalid} invalid` : ''}), ${count(q.promoted.length + q.completed.length, 'promotion')}, ${q.expired.length ? `${count(q.expired.length, 'expiry', 'expiries')}, ` : ''}${count(q.revs.length, 'rev')} decided or advanced${q.partial ? `; stopped at its deadline, ${count(s.backlog, 'batch', 'batches')} wait for the next tick` : ''}`;
  const lines = [head];
  for (const r of q.revs) {
    const gate = r.manualReview ? `; waits for an operator (manual review: ${r.manualReview})` : '';
    const regression = r.regression ? `; regression gate: ${r.regression.words}` : '';
    // An expiry's reason is its last progress already (`expired after 14 days: ...`).
    const words = r.outcome === 'expired' ? r.reason : r.progress && r.outcome !== 'quarantined' && r.outcome !== 'incomplete' ? `${r.progress.words}${regression}${gate}` : r.reason;
    lines.push(`  ${r.rev} ${r.outcome}: ${words}`);
  }
  return lines;
}
