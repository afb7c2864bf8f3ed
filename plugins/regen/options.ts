import { z } from 'zod';
import { lazySchema } from '../../core/lazy-schema.ts';
import { deepMerge } from '../../core/config.ts';
import { isSkillName } from '../../domain/names.ts';
import { DEFAULT_PID, type PidParams } from './pid.ts';

/** A regen agent given as a function in config: gets the brief, returns the new page. */
export type AgentFunction = (brief: string, ctx: { skill: string; briefPath: string; signal: AbortSignal }) => Promise<string> | string;

/** How a regen agent is run: an argv command, or a function. */
export type AgentSpec = readonly string[] | AgentFunction;

/** The `regen` section's schema, made when first used. */
function makeRegenOptions() {
  const agentSchema = z.union([z.array(z.string().min(1, 'an argv entry cannot be empty')).min(1, 'the argv needs at least the command'), z.custom<AgentFunction>((v) => typeof v === 'function')], {
    error: "expected an argv array such as ['my-llm-cli', '--print'] or a function async (brief) => page",
  });

  const num = z.number().refine(Number.isFinite, 'expected a finite number');

  /** Partial PID constants (every key optional; unset keys keep the defaults). */
  const pidSchema = z
    .object({
      setpoint: num.min(0).max(1).optional(),
      alpha: num.gt(0).max(1).optional(),
      maxInnovation: num.gt(0).max(1).optional(),
      kp: num.min(0).optional(),
      ki: num.min(0).optional(),
      kd: num.min(0).optional(),
      integralMin: num.max(0).optional(),
      integralMax: num.min(0).optional(),
      outputMin: num.optional(),
      outputMax: num.optional(),
      on: num.optional(),
      off: num.optional(),
      minRuns: z.number().int().min(1).optional(),
      cooldownMs: z.number().int().min(0).optional(),
      periodMs: z.number().int().min(1).optional(),
      minStep: num.gt(0).optional(),
      maxStep: num.gt(0).optional(),
    })
    .strict();

  const perSkill = z
    .object({
      pid: pidSchema.optional(),
      agent: agentSchema.optional(),
      timeoutMs: z.number().int().min(1).optional(),
    })
    .strict();

  return z
    .object({
      /** PID constants for every skill. */
      pid: pidSchema.default({}),
      /** Per-skill overrides: `skills: { summarize: { pid: { setpoint: 0.9 } } }`. */
      skills: z.record(z.string(), perSkill).default({}),
      /** The regen agent; unset: briefs are written and markers stay. */
      agent: agentSchema.optional(),
      /** Agents running at once. */
      concurrency: z.number().int().min(1).max(64).default(2),
      /** One attempt's time limit; the agent's whole process group is killed after it. */
      timeoutMs: z.number().int().min(1).default(600_000),
      /** Extra attempts within one run after a failure. */
      retries: z.number().int().min(0).max(10).default(1),
      /** First backoff between attempts (doubles each time). */
      backoffMs: z.number().int().min(0).default(2_000),
      /** Failed attempts (over all runs) after which a skill is parked until its marker is re-created. */
      parkAfter: z.number().int().min(1).default(3),
      /** Largest page an agent may print. */
      maxPageBytes: z.number().int().min(1).default(1 << 20),
      /** Recent runs kept per skill in `.snappy/regen/` for briefs and status. */
      recentRuns: z.number().int().min(1).max(10_000).default(50),
      /** Worst recent runs listed in a brief (local and fleet each). */
      worstRuns: z.number().int().min(0).max(1000).default(10),
      /** Local runs of a staged rev before it stops being listed as waiting for evaluation. */
      stagedEvalRuns: z.number().int().min(1).default(3),
    })
    .strict()
    .superRefine((o, ctx) => {
      const check = (p: Partial<PidParams>, where: (string | number)[]) => {
        const k = { ...DEFAULT_PID, ...o.pid, ...p };
        if (k.off > k.on) ctx.addIssue({ code: 'custom', path: [...where, 'off'], message: `off (${k.off}) must not exceed on (${k.on}): the trigger could never re-arm` });
        if (k.integralMin > k.integralMax) ctx.addIssue({ code: 'custom', path: [...where, 'integralMin'], message: 'integralMin must not exceed integralMax' });
        if (k.outputMin > k.outputMax) ctx.addIssue({ code: 'custom', path: [...where, 'outputMin'], message: 'outputMin must not exceed outputMax' });
        if (k.minStep > k.maxStep) ctx.addIssue({ code: 'custom', path: [...where, 'minStep'], message: 'minStep must not exceed maxStep' });
      };
      check({}, ['pid']);
      for (const [skill, s] of Object.entries(o.skills)) {
        if (!isSkillName(skill)) ctx.addIssue({ code: 'custom', path: ['skills', skill], message: `${JSON.stringify(skill)} is not a skill name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})` });
        if (s.pid) check(s.pid, ['skills', skill, 'pid']);
      }
    });
}

/** The `regen` section of snappy.config.ts (tenant and machine overrides already merged). */
export const regenOptionsSchema = lazySchema(makeRegenOptions, 'regen.options');

export type RegenOptions = z.output<typeof regenOptionsSchema>;

/** The PID constants of one skill: defaults < `regen.pid` < `regen.skills.<skill>.pid`. */
export function pidParamsFor(opts: RegenOptions, skill: string): PidParams {
  const own = Object.hasOwn(opts.skills, skill) ? opts.skills[skill]?.pid : undefined;
  return deepMerge(deepMerge({ ...DEFAULT_PID }, opts.pid as Record<string, unknown>), (own ?? {}) as Record<string, unknown>) as unknown as PidParams;
}

/** The agent and time limit of one skill. */
export function agentFor(opts: RegenOptions, skill: string): { agent?: AgentSpec; timeoutMs: number } {
  const own = Object.hasOwn(opts.skills, skill) ? opts.skills[skill] : undefined;
  const agent = own?.agent ?? opts.agent;
  return { ...(agent ? { agent } : {}), timeoutMs: own?.timeoutMs ?? opts.timeoutMs };
}
