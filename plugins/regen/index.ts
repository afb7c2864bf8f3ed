import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { ReadyEvent } from '../../core/hooks.ts';
import { definePlugin, type TaskContext } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import type { Dispatcher, RegenOutcome } from './dispatch.ts';
import type { PidLoop } from './loop.ts';
import { regenOptionsSchema } from './options.ts';

export { regenOptionsSchema, pidParamsFor, type RegenOptions, type AgentFunction, type AgentSpec } from './options.ts';
export { DEFAULT_PID, stepPid, initialPidState, afterRegen, type PidParams, type PidState } from './pid.ts';
export { fetchEvals, type SkillEvals } from './evals.ts';

/**
 * The regen plugin: the per-skill PID loop on `afterEval` (markers in `ready/`), and on
 * `onReady` the brief, the regen agent and the staged revision. Node-only modules load
 * lazily inside the taps, so the plugin can be applied anywhere.
 */
export default definePlugin({
  name: 'regen',
  options: regenOptionsSchema,
  apply(hooks, ctx) {
    const opts = ctx.options;
    // Memoized as promises: concurrent first calls must share one loop and one queue.
    let loop: Promise<PidLoop> | undefined;
    let dispatcher: Promise<Dispatcher> | undefined;
    const getLoop = () => (loop ??= import('./loop.ts').then((m) => new m.PidLoop(opts, ctx.log)));
    const getDispatcher = () => (dispatcher ??= import('./dispatch.ts').then((m) => new m.Dispatcher(opts, ctx.log)));
    // The task that fires onReady says where it runs (ReadyEvent names no state dir).
    let session: { task: TaskContext; outcomes: RegenOutcome[] } | undefined;

    hooks.afterEval.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (ev) => (await getLoop()).afterEval(ev));
    hooks.afterIngest.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (batch) => (await getLoop()).afterIngest(batch));

    hooks.onReady.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (ev: ReadyEvent) => {
      const s = session;
      if (!s) return;
      const out = await (await getDispatcher()).handle(ev, { stateDir: s.task.stateDir, machine: s.task.identity.machine });
      s.outcomes.push(out);
    });

    hooks.onStatus.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (req) => {
      const { regenStatus, statusLines } = await import('./status.ts');
      const st = await regenStatus(req.ctx.stateDir, opts);
      req.sections.skills = st.skills;
      req.sections.staged = st.staged;
      // Staged revs held here that no longer wait: promoted, rejected or quarantined.
      req.sections.decided = st.decided;
      const tty = typeof process !== 'undefined' && !!process.stdout?.isTTY;
      req.lines.push(...statusLines(st, tty && !req.ctx.flags.json));
    });

    ctx.defineTask('regen', {
      describe: 'ingest new eval rows, then for every ready/<skill>.ready: write the brief, run the regen agent, stage the new revision',
      run: async (t) => {
        if (!t.flags.dryRun) await t.ingest();
        const { listMarkers } = await import('./store.ts');
        const { found, ignored } = await listMarkers(t.stateDir);
        for (const msg of ignored) t.log.warn(`${msg}; marker ignored`);
        if (t.flags.dryRun) {
          for (const m of found) t.log.info(`would regen ${m.skill} (${m.rel})`);
          t.report({ markers: found.map((m) => m.skill), dryRun: true });
          return;
        }
        const outcomes: RegenOutcome[] = [];
        session = { task: t, outcomes };
        try {
          // One hook call per marker, all at once: the dispatcher's queue bounds the concurrency.
          // allSettled: one marker's error must not end the run while the others still work.
          const settled = await Promise.allSettled(found.map((m) => t.runner.hooks.onReady.promise({ skill: m.skill, marker: m.rel, snapshot: m.marker.snapshot ?? null, reason: m.marker.reason ?? `${m.rel} was created by hand` })));
          const broken = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
          if (broken) throw broken.reason;
        } finally {
          session = undefined;
          t.report({ markers: found.length, outcomes });
        }
        // Attempts made in this run that failed (a skill skipped as parked made none).
        const failed = outcomes.filter((o) => (o.outcome === 'failed' || o.outcome === 'parked') && o.brief !== undefined);
        if (failed.length && !t.flags.auto) {
          throw new SnappyError(`regen failed for ${failed.map((f) => `${f.skill} (${f.error})`).join('; ')}; markers kept`, { code: ErrorCode.TaskFailed, details: { failed } });
        }
      },
    });

    ctx.defineTask('regen-unpark', {
      describe: 'let parked skills try their regen again at the next "snappy run regen"',
      run: async (t) => {
        const { listAttemptSkills, loadAttempts, saveAttempts } = await import('./store.ts');
        const unparked: string[] = [];
        for (const skill of await listAttemptSkills(t.stateDir)) {
          const att = await loadAttempts(t.stateDir, skill);
          if (!att.parked) continue;
          await saveAttempts(t.stateDir, skill, { ...att, attempts: 0, parked: false });
          unparked.push(skill);
          t.log.info(`${skill}: unparked; the next "snappy run regen" tries it again`);
        }
        if (!unparked.length) t.log.info('no parked skill');
        t.report({ unparked });
      },
    });
  },
});
