import { envInt, type Env } from './env.ts';

export const DAY = 86_400_000;
/** How long the fleet's aggregate rows stay in the pull set by default: a year. */
export const DEFAULT_RETENTION_DAYS = 365;

/**
 * Days of aggregate rows the Worker serves and compacts (`SNAPPY_AGG_RETENTION_DAYS`; 0 keeps
 * them forever). A value that is not a whole number of days ≥ 0 keeps the default, as the
 * other numeric variables do, and is reported on every cron tick.
 */
export function retentionDays(env: Env): number {
  return envInt(env.SNAPPY_AGG_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, 0);
}
