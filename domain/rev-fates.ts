import { isRevId, isSkillName } from './names.ts';

/**
 * What became of a staged rev. (A rev that is none of these is still open.) `expired` is the
 * one fate that can end: an operator may revive the rev, and a later pull finds it open again.
 */
export type RevFateState = 'promoted' | 'quarantined' | 'rejected' | 'expired';

/**
 * What became of a staged rev, as this machine learned it from a pull: from the canonical page
 * it pulled (the page hashes to the rev id), or from the remote's own records (direct mode: the
 * changelog and the quorum's rejection and quarantine records; Worker mode: /v1/status).
 */
export interface RevFate {
  state: RevFateState;
  /** When it was promoted, rejected, quarantined or expired, when the evidence says. */
  ts?: string;
  /** Who: `quorum`, `manual:<operator>`, or the operator who rejected it. */
  by?: string;
  /** Why it was quarantined, rejected or expired (an expiry's last progress). */
  reason?: string;
  /** Where this machine learned it. */
  source: 'canonical' | 'changelog' | 'quorum-records' | 'worker';
  /** When this machine learned it (ISO). */
  learned: string;
}

/** `.snappy/rev-fates.json`: the fates of staged revs this machine holds, by `<skill>:<rev>`. */
export interface RevFates {
  v: 1;
  revs: Record<string, RevFate>;
  /** When a pull last asked the remote's records (epoch ms). */
  checked?: number;
}

const STATES: readonly string[] = ['promoted', 'quarantined', 'rejected', 'expired'];

/** The fates file's content, or an empty record for anything that is not one (absent, torn, hand-edited). */
export function parseRevFates(value: unknown): RevFates {
  const out: RevFates = { v: 1, revs: {} };
  const revs = (value as { v?: unknown; revs?: unknown } | null)?.revs;
  if ((value as { v?: unknown } | null)?.v !== 1 || !revs || typeof revs !== 'object') return out;
  const checked = (value as { checked?: unknown }).checked;
  if (typeof checked === 'number' && Number.isFinite(checked)) out.checked = checked;
  for (const [id, f] of Object.entries(revs as Record<string, Partial<RevFate>>)) {
    const [skill, rev] = id.split(':');
    if (!isSkillName(skill) || !isRevId(rev) || !f || typeof f !== 'object' || !STATES.includes(f.state as string)) continue;
    out.revs[id] = f as RevFate;
  }
  return out;
}
