import type { RunContext } from '../../core/context.ts';
import type { EvalEvent } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import { pidParamsFor, type RegenOptions } from './options.ts';
import { stepPid, type PidParams } from './pid.ts';
import { writeMarker, type Marker } from '../../adapters/markers.ts';
import { isoOf, loadRecord, saveRecord, snapshotOf, type MarkerSnapshot, type SkillRecord } from './store.ts';

/** What one ingest pass has applied so far: written at its `afterIngest`. */
interface Pass {
  open: Map<string, Promise<SkillRecord>>;
  dirty: Set<string>;
  markers: Map<string, Marker<MarkerSnapshot>>;
}

/**
 * The PID loop as ingest observers. `afterEval` updates the skill's record in memory;
 * `afterIngest` (the flush point) writes the markers first, then the records. A crash before
 * the records land replays the chunk: every record remembers the last (generation, offset)
 * it applied, so a replayed row changes nothing, and a marker written twice is the same marker.
 * What a pass applied is kept by its run, never across runs.
 */
export class PidLoop {
  private readonly passes = new WeakMap<RunContext, Pass>();
  private readonly params = new Map<string, PidParams>();

  constructor(
    private readonly opts: RegenOptions,
    private readonly log: Logger,
  ) {}

  async afterEval(run: RunContext, ev: EvalEvent): Promise<void> {
    const pass = this.pass(run);
    const rec = await this.record(pass, run.stateDir, ev.skill);
    if (rec.applied && rec.applied.generation === ev.generation && ev.offset <= rec.applied.offset) return;
    rec.applied = { generation: ev.generation, offset: ev.offset };
    pass.dirty.add(ev.skill);
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
      pass.markers.set(ev.skill, { skill: ev.skill, reason: trigger, created: new Date(run.clock.now()).toISOString(), snapshot: snapshotOf(state, k, ev.ts) });
    }
  }

  async afterIngest(run: RunContext): Promise<void> {
    const pass = this.passes.get(run);
    if (!pass) return;
    // Records are read again at the next pass: another process may have moved them since.
    this.passes.delete(run);
    for (const m of pass.markers.values()) {
      await writeMarker(run.stateDir, m);
      this.log.info(`${m.skill}: marker ready/${m.skill}.ready dropped: ${m.reason}`);
    }
    for (const skill of pass.dirty) await saveRecord(run.stateDir, await pass.open.get(skill)!);
  }

  private pass(run: RunContext): Pass {
    let p = this.passes.get(run);
    if (!p) this.passes.set(run, (p = { open: new Map(), dirty: new Set(), markers: new Map() }));
    return p;
  }

  private record(pass: Pass, dir: string, skill: string): Promise<SkillRecord> {
    let p = pass.open.get(skill);
    if (!p) {
      p = loadRecord(dir, skill);
      pass.open.set(skill, p);
    }
    return p;
  }
}
