/**
 * The per-skill PID controller, pure: no I/O, no clock. One `stepPid` per eval run of the
 * skill's current page, with score s. This is the one statement of its formulas (docs/regen.md
 * explains the defaults and shows how they behave):
 *
 *   time     dt = clamp(Δts / periodMs, minStep, maxStep)       same-instant or out-of-order rows: one step; a gap of days: at most two
 *   filter   f += clamp(alpha·(s − f), ±maxInnovation)           a new skill starts at f = setpoint; one wild run moves f by at most maxInnovation
 *   error    e = setpoint − f                                    positive below target
 *   P        kp·e
 *   I        I = clamp(I + ki·e·dt, integralMin, integralMax)    not integrated while u is pinned and e pushes further (anti-windup)
 *   D        −kd·(f − f_prev)/dt                                 on the measurement: a setpoint change causes no kick
 *   output   u = clamp(P + I + D, outputMin, outputMax)
 *   trigger  a marker when u ≥ on while armed, runsSinceRegen ≥ minRuns and cooldownMs (event
 *            time) since the last marker; re-armed when u ≤ off (hysteresis)
 *
 * After a successful regen (`afterRegen`) runsSinceRegen starts over and the trigger re-arms.
 */

/** Every constant of the controller (config `regen.pid`, `regen.skills.<skill>.pid`). */
export interface PidParams {
  /** Target score; error = setpoint − filtered score. */
  setpoint: number;
  /** EMA weight of a new run in the filtered score (0 < alpha ≤ 1). */
  alpha: number;
  /** Largest move one run may make to the filtered score (outlier limit; 1 = none). */
  maxInnovation: number;
  kp: number;
  /** Integral gain per step. */
  ki: number;
  /** Derivative gain, applied to the filtered measurement (no derivative kick). */
  kd: number;
  /** Anti-windup clamp of the integral term (already multiplied by ki). */
  integralMin: number;
  integralMax: number;
  /** The output is clamped to [outputMin, outputMax]. */
  outputMin: number;
  outputMax: number;
  /** A marker is due when the output reaches `on`; the trigger re-arms when it falls to `off`. */
  on: number;
  off: number;
  /** Runs needed since the last regen (or since the first run) before a marker. */
  minRuns: number;
  /** Event time (ms) that must pass after one marker before the next. */
  cooldownMs: number;
  /** Time (ms) one step stands for; gaps are measured in these units. */
  periodMs: number;
  /** Bounds of one step, in periods: rows at the same instant count `minStep`, long gaps count at most `maxStep`. */
  minStep: number;
  maxStep: number;
}

export const DEFAULT_PID: PidParams = {
  setpoint: 0.8,
  alpha: 0.3,
  maxInnovation: 0.15,
  kp: 1,
  ki: 0.1,
  kd: 0.2,
  integralMin: -0.1,
  integralMax: 0.5,
  outputMin: -1,
  outputMax: 1,
  on: 0.2,
  off: 0.1,
  minRuns: 5,
  cooldownMs: 3_600_000,
  periodMs: 3_600_000,
  minStep: 1,
  maxStep: 2,
};

/** What the controller remembers about one skill between runs. */
export interface PidState {
  /** Runs of the current page seen (rows of staged revs excluded). */
  runs: number;
  runsSinceRegen: number;
  /** Filtered score; null before the first run. */
  filtered: number | null;
  /** The integral term (ki already applied), within [integralMin, integralMax]. */
  integral: number;
  error: number;
  output: number;
  /** The proportional and derivative terms of the last step (the integral term is `integral`). */
  p: number;
  d: number;
  /** Event time of the last run (ms). */
  lastTs: number | null;
  /** True between a marker and the output falling to `off` (the hysteresis latch). */
  latched: boolean;
  /** Event time of the last marker. */
  lastMarkerTs: number | null;
  /** Wall time of the last successful regen. */
  lastRegenTs: number | null;
}

export function initialPidState(): PidState {
  return { runs: 0, runsSinceRegen: 0, filtered: null, integral: 0, error: 0, output: 0, p: 0, d: 0, lastTs: null, latched: false, lastMarkerTs: null, lastRegenTs: null };
}

/** One run's outcome for the controller. */
export interface PidStep {
  state: PidState;
  /** Set when this run should drop a marker: why, in words. */
  trigger?: string;
}

/** Advances the controller by one run with `score` at event time `ts` (ms). Never mutates `prev`. */
export function stepPid(prev: PidState, score: number, ts: number, k: PidParams): PidStep {
  const s = clamp(Number.isFinite(score) ? score : 0, 0, 1);
  const dt = prev.lastTs === null || !Number.isFinite(ts) ? 1 : clamp((ts - prev.lastTs) / Math.max(k.periodMs, 1), k.minStep, k.maxStep);
  // A skill with no runs yet is presumed on target: its first run is filtered like any other,
  // so a bad first run weighs no more than a bad run anywhere else.
  const before = prev.filtered ?? k.setpoint;
  const filtered = before + clamp(k.alpha * (s - before), -k.maxInnovation, k.maxInnovation);
  const error = k.setpoint - filtered;
  const p = k.kp * error;
  // Derivative of the measurement, not of the error: a setpoint change causes no kick.
  const d = (-k.kd * (filtered - before)) / dt;
  // Conditional integration: stop integrating while the output is pinned and the error
  // would push it further; the clamp then bounds what is left (anti-windup).
  const unclamped = p + prev.integral + d;
  const pinned = (unclamped >= k.outputMax && error > 0) || (unclamped <= k.outputMin && error < 0);
  const integral = pinned ? prev.integral : clamp(prev.integral + k.ki * error * dt, k.integralMin, k.integralMax);
  const output = clamp(p + integral + d, k.outputMin, k.outputMax);
  const state: PidState = {
    ...prev,
    runs: prev.runs + 1,
    runsSinceRegen: prev.runsSinceRegen + 1,
    filtered,
    integral,
    error,
    output,
    p,
    d,
    lastTs: prev.lastTs === null ? ts : Math.max(prev.lastTs, ts),
  };
  if (state.latched && output <= k.off) state.latched = false;
  if (state.latched || output < k.on) return { state };
  if (state.runsSinceRegen < k.minRuns) return { state };
  if (state.lastMarkerTs !== null && ts - state.lastMarkerTs < k.cooldownMs) return { state };
  state.latched = true;
  state.lastMarkerTs = ts;
  const trigger = `output ${output.toFixed(3)} reached ${k.on} (filtered score ${filtered.toFixed(3)} below setpoint ${k.setpoint}; P ${p.toFixed(3)}, I ${integral.toFixed(3)}, D ${d.toFixed(3)}) after ${state.runsSinceRegen} runs since the last regen`;
  return { state, trigger };
}

/** After a successful regen: the minimum-runs rule starts over and the trigger re-arms. */
export function afterRegen(prev: PidState, now: number): PidState {
  return { ...prev, runsSinceRegen: 0, latched: false, lastRegenTs: now };
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
