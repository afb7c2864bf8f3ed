import type { Logger } from '../core/ports.ts';
import { deliverAlerts, type Delivery, type Webhook } from '../domain/alert-webhook.ts';
import { DEFAULT_THRESHOLDS, updateAlerts, type AlertEvent, type AlertThresholds } from '../domain/alerts.ts';
import type { Stores } from './bindings.ts';
import type { Env } from './env.ts';

/** The alert thresholds from the Worker's variables, each falling back to its default. */
export function thresholdsOf(env: Env): AlertThresholds {
  const n = (v: string | undefined, d: number) => {
    const x = Number(v);
    return v !== undefined && v !== '' && Number.isFinite(x) && x > 0 ? x : d;
  };
  return {
    tickFailures: n(env.SNAPPY_ALERT_TICK_FAILURES, DEFAULT_THRESHOLDS.tickFailures),
    backlogMinutes: n(env.SNAPPY_ALERT_BACKLOG_MINUTES, DEFAULT_THRESHOLDS.backlogMinutes),
    quietHours: n(env.SNAPPY_ALERT_QUIET_HOURS, DEFAULT_THRESHOLDS.quietHours),
    quietCheckMinutes: DEFAULT_THRESHOLDS.quietCheckMinutes,
  };
}

/** The webhook from SNAPPY_ALERT_WEBHOOK (a secret: such URLs often carry a token), or null. */
export function webhookOf(env: Env): Webhook | null {
  const url = env.SNAPPY_ALERT_WEBHOOK?.trim();
  if (!url) return null;
  return { url, ...(env.SNAPPY_ALERT_WEBHOOK_SECRET ? { secret: env.SNAPPY_ALERT_WEBHOOK_SECRET } : {}) };
}

/**
 * After every cron tick, failed or not: evaluates the alerts against what the stores say now
 * (the tick's record, quarantines, tenants' last requests), logs each opening and resolution,
 * and delivers pending events to the webhook when one is set.
 */
export async function afterTick(env: Env, stores: Stores, log: Logger, now = Date.now()): Promise<{ events: AlertEvent[]; deliveries: Delivery[] }> {
  const { events } = await updateAlerts(stores.blobs, thresholdsOf(env), now);
  for (const e of events) log.warn(`alert ${e.event}: ${e.alert.id}: ${e.alert.message}`);
  const hook = webhookOf(env);
  if (!hook) return { events, deliveries: [] };
  let deliveries: Delivery[] = [];
  try {
    deliveries = await deliverAlerts(stores.blobs, hook);
  } catch (err) {
    log.warn(`delivering alerts failed: ${(err as Error).message}`);
  }
  for (const d of deliveries) if (d.error) log.warn(`alert webhook: ${d.delivery} not delivered (${d.error}); tried again next tick`);
  return { events, deliveries };
}
