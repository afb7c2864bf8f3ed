import type { Env } from './env.ts';

export const DAY = 86_400_000;
/** How long the fleet's aggregate rows stay in the pull set by default: a year. */
export const DEFAULT_RETENTION_DAYS = 365;

/**
 * Days of aggregate rows the Worker serves and compacts (`SNAPPY_AGG_RETENTION_DAYS`; 0 keeps
 * them forever). A value that is not a whole number of days ≥ 0 keeps the default, as the
 * other numeric variables do, and is reported on every cron tick.
 */
export function retentionDays(env: Env): number {
  const raw = env.SNAPPY_AGG_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_RETENTION_DAYS;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_RETENTION_DAYS;
}
