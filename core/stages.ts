/**
 * Stage constants order taps on one hook: lower runs first; equal stages keep plugin order.
 * Leave gaps so third-party plugins can slot in between the built-in ones.
 */
export const Stage = {
  /** Guards that must see the input before anything changes it (validation, vetoes on raw input). */
  GUARD: -200,
  /** Plugins that add or rewrite work (add plan entries, enrich events). */
  PREPARE: -100,
  /** The default stage. */
  DEFAULT: 0,
  /** Filters that drop or veto what earlier stages prepared (sync's allow/deny). */
  FILTER: 100,
  /** Observers that only record or report: they see the final result. */
  REPORT: 200,
} as const;
