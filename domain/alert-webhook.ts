import type { BlobStore } from '../core/ports.ts';
import { MAX_ATTEMPTS, readAlertState, type AlertEvent, type AlertState, emptyAlertState } from './alerts.ts';
import { hmacSha256Hex } from './hash.ts';
import { updateJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { RELEASE } from './versions.ts';

/** Where alert events go: a URL that takes a JSON POST, and the secret their signature is made with. */
export interface Webhook {
  url: string;
  secret?: string;
  /** Per call (default 5 s): a hung receiver must not hold the tick's handler. */
  timeoutMs?: number;
}

/** One delivery attempt, for the caller's log and for measuring. */
export interface Delivery {
  delivery: string;
  event: AlertEvent['event'];
  alert: string;
  status?: number;
  ms: number;
  error?: string;
}

/** The id a receiver can deduplicate on: delivery is at least once (two handlers may both send). */
export const deliveryId = (e: AlertEvent): string => `${e.event}:${e.alert.id}:${e.at}`;

/**
 * Sends every undelivered alert event to the webhook, oldest first, one POST each:
 * `{source: 'snappy', delivery, event, at, alert, text}` (`text` is one line, so a chat
 * service's incoming webhook shows it as it is), with `x-snappy-delivery` and, when a secret is
 * set, `x-snappy-signature: sha256=<HMAC-SHA256 hex of the body>`. A 2xx answer delivers; any
 * other answer, a timeout or a refused connection leaves the event for the next round, up to
 * MAX_ATTEMPTS attempts. The outbox is updated with a compare-and-swap.
 */
export async function deliverAlerts(blobs: BlobStore, hook: Webhook, opts: { now?: number } = {}): Promise<Delivery[]> {
  const state = await readAlertState(blobs);
  if (!state.outbox.length) return [];
  const out: Delivery[] = [];
  const done = new Map<string, AlertEvent>();
  for (const e of state.outbox) {
    const delivery = deliveryId(e);
    const body = JSON.stringify({ source: 'snappy', delivery, event: e.event, at: e.at, alert: e.alert, text: `[snappy] ${e.event === 'opened' ? (e.alert.severity === 'error' ? 'ALERT' : 'warning') : 'resolved'}: ${e.alert.message}` });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `snappy/${RELEASE}`, 'x-snappy-delivery': delivery };
    if (hook.secret) headers['x-snappy-signature'] = `sha256=${await hmacSha256Hex(hook.secret, body)}`;
    const t0 = Date.now();
    let status: number | undefined;
    let error: string | undefined;
    try {
      const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(hook.timeoutMs ?? 5_000) });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `no answer within ${hook.timeoutMs ?? 5_000} ms` : (err as Error).message;
    }
    const ms = Date.now() - t0;
    out.push({ delivery, event: e.event, alert: e.alert.id, ...(status !== undefined ? { status } : {}), ms, ...(error ? { error } : {}) });
    const at = new Date(opts.now ?? Date.now()).toISOString();
    done.set(delivery, error ? { ...e, attempts: e.attempts + 1, lastError: error } : { ...e, attempts: e.attempts + 1, delivered: { at, status: status!, ms } });
  }
  await updateJson<AlertState>(blobs, Remote.alerts, emptyAlertState, (cur) => {
    const outbox: AlertEvent[] = [];
    for (const e of cur.outbox ?? []) {
      const d = done.get(deliveryId(e));
      if (!d) outbox.push(e);
      else if (!d.delivered && d.attempts < MAX_ATTEMPTS) outbox.push(d);
    }
    const last = out[out.length - 1]!;
    return { ...emptyAlertState(), ...cur, outbox, webhook: { at: new Date(opts.now ?? Date.now()).toISOString(), ...(last.status !== undefined ? { status: last.status } : {}), ms: last.ms, ...(last.error ? { error: last.error } : {}) } };
  });
  return out;
}
