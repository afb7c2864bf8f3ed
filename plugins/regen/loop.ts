import type { EvalEvent, IngestBatch } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import { pidParamsFor, type RegenOptions } from './options.ts';
import { stepPid, type PidParams } from './pid.ts';
import { isoOf, loadRecord, saveRecord, snapshotOf, writeMarker, type Marker, type SkillRecord } from './store.ts';

/**
 * The PID loop as ingest observers. `afterEval` updates the skill's record in memory;
 * `afterIngest` (the flush point) writes the markers first, then the records. A crash before
 * the records land replays the chunk: every record remembers the last (generation, offset)
 * it applied, so a replayed row changes nothing, and a marker written twice is the same marker.
 */
export class PidLoop {
  private readonly open = new Map<string, Promise<SkillRecord>>();
  private readonly dirty = new Set<string>();
  private readonly markers = new Map<string, Marker>();
  private readonly params = new Map<string, PidParams>();

  constructor(
    private readonly opts: RegenOptions,
    private readonly log: Logger,
  ) {}

  async afterEval(ev: EvalEvent): Promise<void> {
    // Rows without a state dir come from no local log (the Worker): there is no loop to drive.
    if (!ev.stateDir) return;
    const rec = await this.record(ev.stateDir, ev.skill);
    if (rec.applied && rec.applied.generation === ev.generation && ev.offset <= rec.applied.offset) return;
    rec.applied = { generation: ev.generation, offset: ev.offset };
    this.dirty.add(ev.skill);
    if (ev.rev) {
      const r = (rec.revs[ev.rev] ??= { runs: 0, sum: 0, last: '' });
      r.runs++;
      r.sum += ev.score;
      r.last = isoOf(ev.ts);
      return;
    }
    let k = this.params.get(ev.skill);
    if (!k) this.params.set(ev.skill, (k = pidParamsFor(this.opts, ev.skill)));
    const { state, trigger } = stepPid(rec.pid, ev.score, ev.ts, k);
    rec.pid = state;
    rec.recent.push({ ts: isoOf(ev.ts), score: ev.score, ok: ev.ok, ...(ev.costCents !== undefined ? { costCents: ev.costCents } : {}) });
    if (rec.recent.length > this.opts.recentRuns) rec.recent.splice(0, rec.recent.length - this.opts.recentRuns);
    if (trigger) {
      this.markers.set(ev.skill, { skill: ev.skill, reason: trigger, created: new Date().toISOString(), snapshot: snapshotOf(state, k, ev.ts) });
    }
  }

  async afterIngest(batch: IngestBatch): Promise<void> {
    const dir = batch.stateDir;
    try {
      if (!dir) return;
      for (const m of this.markers.values()) {
        await writeMarker(dir, m);
        this.log.info(`${m.skill}: marker ready/${m.skill}.ready dropped: ${m.reason}`);
      }
      for (const skill of this.dirty) await saveRecord(dir, await this.open.get(skill)!);
    } finally {
      // Records are read again at the next pass: another process may have moved them since.
      this.markers.clear();
      this.dirty.clear();
      this.open.clear();
    }
  }

  private record(dir: string, skill: string): Promise<SkillRecord> {
    let p = this.open.get(skill);
    if (!p) {
      p = loadRecord(dir, skill);
      this.open.set(skill, p);
    }
    return p;
  }
}
