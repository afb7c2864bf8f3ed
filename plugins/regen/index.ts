import { definePlugin } from '../../core/plugin.ts';
import { Stage } from '../../core/stages.ts';
import type { Dispatcher } from './dispatch.ts';
import type { PidLoop } from './loop.ts';
import { regenOptionsSchema } from './options.ts';

export { regenOptionsSchema, pidParamsFor, type RegenOptions, type AgentFunction, type AgentSpec } from './options.ts';
export { DEFAULT_PID, stepPid, initialPidState, afterRegen, type PidParams, type PidState } from './pid.ts';
export { fetchEvals, type SkillEvals } from './evals.ts';

/**
 * The regen plugin: the per-skill PID loop on `afterEval` (markers in `ready/`), and on
 * `onReady` (fired by `snappy run regen` for every marker) the brief, the regen agent and
 * the staged revision. Node-only modules load lazily inside the taps, so the plugin can be
 * applied anywhere.
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

    hooks.afterEval.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, ev) => (await getLoop()).afterEval(run, ev));
    hooks.afterIngest.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run) => (await getLoop()).afterIngest(run));

    hooks.onReady.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, ev) => {
      const out = await (await getDispatcher()).handle(ev, { stateDir: run.stateDir, machine: run.identity.machine });
      // An attempt made in this run that failed (a skill skipped as parked made none) fails the run unless --auto.
      ev.settle({ ...out, ...((out.outcome === 'failed' || out.outcome === 'parked') && out.brief !== undefined ? { failed: true } : {}) });
    });

    hooks.onStatus.tapPromise({ name: ctx.name, stage: Stage.DEFAULT }, async (run, status) => {
      const { regenStatus, statusLines } = await import('./status.ts');
      const st = await regenStatus(run.stateDir, opts);
      status.sections.skills = st.skills;
      status.sections.staged = st.staged;
      // Staged revs held here that no longer wait: promoted, rejected or quarantined.
      status.sections.decided = st.decided;
      status.lines.push(...statusLines(st, status.color));
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
