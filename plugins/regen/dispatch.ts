import { promises as fs } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import type { ReadyEvent } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import { writeFileAtomic } from '../../adapters/fs.ts';
import { revIdOf } from '../../domain/hash.ts';
import { State } from '../../domain/state-layout.ts';
import { AgentFailure, runAgent } from './agent.ts';
import { formatBrief, recordOutcome, writeBrief } from './brief.ts';
import { formatSharedBrief, sharedOutcome } from './shared-brief.ts';
import { fetchEvals } from './evals.ts';
import { agentFor, type RegenOptions } from './options.ts';
import { toRevision } from './page.ts';
import { afterRegen } from './pid.ts';
import { readMarker } from '../../adapters/markers.ts';
import { loadAttempts, loadRecord, saveAttempts, saveRecord, type AttemptRecord } from './store.ts';

/** What became of one marker. */
export interface RegenOutcome {
  skill: string;
  outcome: 'staged' | 'failed' | 'parked' | 'no-agent' | 'gone';
  brief?: string;
  rev?: string;
  staged?: string;
  attempts?: number;
  error?: string;
}

/** Where a dispatch runs: the state dir and this machine. */
export interface DispatchTarget {
  stateDir: string;
  machine: string;
}

/**
 * Turns `.ready` markers into staged revisions: brief, agent (through one p-queue, so at
 * most `concurrency` agents run at once), retries with backoff, parking, staging.
 */
export class Dispatcher {
  private readonly queue: PQueue;

  constructor(
    private readonly opts: RegenOptions,
    private readonly log: Logger,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.queue = new PQueue({ concurrency: opts.concurrency });
  }

  async handle(ev: Omit<ReadyEvent, 'settle'>, at: DispatchTarget): Promise<RegenOutcome> {
    const { skill } = ev;
    const dir = at.stateDir;
    const found = await readMarker(dir, skill);
    if (!found) return { skill, outcome: 'gone' };
    let att = await loadAttempts(dir, skill);
    if (att.markerId !== found.id) att = { markerId: found.id, attempts: 0, parked: false };
    if (att.parked) {
      this.log.warn(`${skill}: parked after ${att.attempts} failed attempt(s) (last: ${att.lastError ?? 'unknown'}); re-create ${found.rel} or run "snappy run regen-unpark" to try again`);
      return { skill, outcome: 'parked', attempts: att.attempts, ...(att.lastError ? { error: att.lastError } : {}) };
    }

    const pageFile = path.join(dir, State.skill(skill));
    const current = await fs.readFile(pageFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    const baseRev = current === null ? null : await revIdOf(current);
    // Two briefs: the agent works from the local one, which never syncs; the shared one, which
    // goes to every tenant, is its summary (see shared-brief.ts for what it may hold).
    const briefRel = State.brief(skill, at.machine);
    const briefs = { shared: path.join(dir, briefRel), local: path.join(dir, State.localBrief(skill)) };
    const input = {
      skill,
      machine: at.machine,
      baseRev,
      created: new Date().toISOString(),
      reason: ev.reason,
      snapshot: (ev.snapshot ?? {}) as Record<string, unknown>,
      evals: await fetchEvals(dir, skill, this.opts.worstRuns),
      page: current,
      pageShared: baseRev !== null && (await isShared(dir, skill, baseRev)),
      worstRuns: this.opts.worstRuns,
    };
    const briefText = formatBrief(input);
    await writeBrief(briefs.local, briefText);
    await writeBrief(briefs.shared, formatSharedBrief(input));
    const briefPath = briefs.local;

    const { agent, timeoutMs } = agentFor(this.opts, skill);
    if (!agent) {
      await recordOutcomes(briefs, { outcome: 'no-agent' });
      this.log.info(`${skill}: no regen agent configured (config regen.agent): brief written to ${State.localBrief(skill)} (shared summary: ${briefRel}); marker ${found.rel} kept`);
      return { skill, outcome: 'no-agent', brief: briefRel };
    }

    return this.queue.add(async () => {
      let error = '';
      for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
        if (attempt > 0) await this.sleep(this.opts.backoffMs * 2 ** (attempt - 1));
        att = { ...att, attempts: att.attempts + 1, lastAttempt: new Date().toISOString() };
        await saveAttempts(dir, skill, att);
        try {
          const printed = await runAgent(agent, { skill, brief: briefText, briefPath, timeoutMs, maxBytes: this.opts.maxPageBytes });
          const rev = toRevision(printed, baseRev, current);
          if (!rev.ok) throw new AgentFailure(rev.reason, 'output');
          return await this.stage(at, skill, rev.text, briefs, briefRel, att);
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
          att = { ...att, lastError: error, lastOutcome: 'failed' };
          if (att.attempts >= this.opts.parkAfter) att.parked = true;
          await saveAttempts(dir, skill, att);
          this.log.error(`${skill}: regen attempt ${att.attempts} failed: ${error}`);
          if (att.parked) break;
        }
      }
      const outcome = att.parked ? 'parked' : 'failed';
      await recordOutcomes(briefs, { outcome, error, attempts: att.attempts, finished: new Date().toISOString() });
      if (att.parked) this.log.error(`${skill}: parked after ${att.attempts} failed attempt(s); the marker stays; re-create ${found.rel} or run "snappy run regen-unpark" to try again`);
      return { skill, outcome, brief: briefRel, attempts: att.attempts, error } satisfies RegenOutcome;
    }) as Promise<RegenOutcome>;
  }

  private async stage(at: DispatchTarget, skill: string, text: string, briefs: Briefs, briefRel: string, att: AttemptRecord): Promise<RegenOutcome> {
    const dir = at.stateDir;
    const rev = await revIdOf(text);
    const rel = State.stagedPage(skill, rev);
    await writeFileAtomic(path.join(dir, rel), text);
    // Order matters for a crash: the rev is staged before the marker goes, so the worst case
    // is one more regen, never a lost revision.
    const rec = await loadRecord(dir, skill);
    rec.pid = afterRegen(rec.pid, Date.now());
    await saveRecord(dir, rec);
    await fs.rm(path.join(dir, State.marker(skill)), { force: true });
    await saveAttempts(dir, skill, { markerId: null, attempts: 0, parked: false, lastOutcome: 'staged', lastRev: rev, lastAttempt: att.lastAttempt ?? new Date().toISOString() });
    await recordOutcomes(briefs, { outcome: 'staged', rev_id: rev, attempts: att.attempts, finished: new Date().toISOString() });
    this.log.info(`${skill}: staged revision ${rev} (${rel}); marker removed`);
    return { skill, outcome: 'staged', brief: briefRel, rev, staged: rel, attempts: att.attempts };
  }
}

/** The two briefs of one regen: absolute paths. */
interface Briefs {
  shared: string;
  local: string;
}

/** The outcome goes into both briefs: in full into the local one, coarsened into the shared one. */
async function recordOutcomes(briefs: Briefs, fields: Record<string, unknown>): Promise<void> {
  await recordOutcome(briefs.local, fields);
  await recordOutcome(briefs.shared, sharedOutcome(fields));
}

/**
 * Whether the page with this rev id is already shared: it is the canonical page, or a staged
 * rev present here (each checked by hashing its bytes, not by its name).
 */
async function isShared(stateDir: string, skill: string, rev: string): Promise<boolean> {
  for (const rel of [`${State.canonicalDir(skill)}${skill}.md`, State.stagedPage(skill, rev)]) {
    const bytes = await fs.readFile(path.join(stateDir, rel)).catch(() => null);
    if (bytes && (await revIdOf(bytes)) === rev) return true;
  }
  return false;
}
