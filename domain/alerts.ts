import type { BlobStore } from '../core/ports.ts';
import { listSeen, readTickRecord, type SeenRecord, type TickRecord } from './health.ts';
import { nullIfMalformed, readJson, updateJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { isAdmitted, type TenantRecord } from './registry.ts';
import { getTenant } from './registry.ts';

/**
 * Alerts (docs/operate.md "Watch"): conditions an operator must hear of without looking. Each
 * is open while its condition holds, resolved when it stops (a quarantine, which never stops,
 * until an operator acknowledges it), and every opening and resolution is an event the Worker
 * delivers to the webhook once.
 */
export type AlertKind = 'tick-failing' | 'backlog' | 'quarantine' | 'tenant-quiet';

export interface Alert {
  /** `<kind>` or `<kind>:<subject>`: one alert per condition and subject. */
  id: string;
  kind: AlertKind;
  severity: 'error' | 'warning';
  /** The tenant it concerns; absent for the fleet's alerts (every tenant is concerned). */
  tenant?: string;
  message: string;
  /** When it opened and when its message last changed (ISO). */
  opened: string;
  updated: string;
}

/** An alert's opening or resolution, waiting for (or past) delivery to the webhook. */
export interface AlertEvent {
  event: 'opened' | 'resolved';
  alert: Alert;
  at: string;
  /** Delivery attempts so far and how the last one went. */
  attempts: number;
  delivered?: { at: string; status: number; ms: number };
  lastError?: string;
}

/** `snappy-health/alerts.json`. */
export interface AlertState {
  v: 1;
  open: Record<string, Alert>;
  /** Ids an operator acknowledged: not opened again while their condition lasts. */
  acked: Record<string, { by: string; at: string }>;
  /** Events not yet delivered (oldest first; at most MAX_OUTBOX). */
  outbox: AlertEvent[];
  /** When tenants were last checked for quietness (ISO): a listing of the registry, not every tick. */
  quietCheckedAt?: string;
  /** The last webhook call, for the ops page. */
  webhook?: { at: string; status?: number; ms: number; error?: string };
}

/** Thresholds, from the Worker's variables (worker/env.ts) or their defaults. */
export interface AlertThresholds {
  /** Failed ticks in a row before `tick-failing` opens. */
  tickFailures: number;
  /** Minutes a backlog may last before `backlog` opens. */
  backlogMinutes: number;
  /** Hours without a request before an admitted tenant is `tenant-quiet`. */
  quietHours: number;
  /** Minutes between quiet checks. */
  quietCheckMinutes: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = { tickFailures: 3, backlogMinutes: 15, quietHours: 72, quietCheckMinutes: 10 };
/** Undelivered events kept at most (the oldest go first when a webhook stays down). */
export const MAX_OUTBOX = 200;
/** Attempts per event before it is dropped from the outbox (it stays in the alert log). */
export const MAX_ATTEMPTS = 5;

export const emptyAlertState = (): AlertState => ({ v: 1, open: {}, acked: {}, outbox: [] });
const isState = (v: unknown): boolean => !!v && typeof v === 'object' && (v as AlertState).v === 1 && typeof (v as AlertState).open === 'object' && Array.isArray((v as AlertState).outbox);

export async function readAlertState(blobs: BlobStore): Promise<AlertState> {
  const s = await readJson<AlertState>(blobs, Remote.alerts, isState).catch(nullIfMalformed);
  return s ? { ...emptyAlertState(), ...s } : emptyAlertState();
}

/** A condition that holds now: an alert to open (or keep open). */
export type Finding = Omit<Alert, 'opened' | 'updated'>;

/**
 * One round of alert evaluation, pure: opens findings not open yet (unless acknowledged),
 * updates the message of open ones, resolves open alerts of the `checked` kinds whose condition
 * no longer holds, forgets acknowledgements of conditions that ended, and queues an event for
 * each opening and resolution.
 */
export function evaluate(prev: AlertState, findings: readonly Finding[], checked: ReadonlySet<AlertKind>, now: number): { next: AlertState; events: AlertEvent[] } {
  const at = new Date(now).toISOString();
  const next: AlertState = { ...prev, open: { ...prev.open }, acked: { ...prev.acked }, outbox: [...prev.outbox] };
  const events: AlertEvent[] = [];
  const holding = new Set(findings.map((f) => f.id));
  for (const f of findings) {
    if (next.acked[f.id]) continue;
    const cur = next.open[f.id];
    if (!cur) {
      const alert: Alert = { ...f, opened: at, updated: at };
      next.open[f.id] = alert;
      events.push({ event: 'opened', alert, at, attempts: 0 });
    } else if (cur.message !== f.message || cur.severity !== f.severity) {
      next.open[f.id] = { ...cur, message: f.message, severity: f.severity, updated: at };
    }
  }
  for (const [id, a] of Object.entries(next.open)) {
    if (!checked.has(a.kind) || holding.has(id)) continue;
    delete next.open[id];
    events.push({ event: 'resolved', alert: { ...a, updated: at }, at, attempts: 0 });
  }
  for (const id of Object.keys(next.acked)) {
    const kind = id.split(':')[0] as AlertKind;
    if (checked.has(kind) && !holding.has(id)) delete next.acked[id];
  }
  next.outbox.push(...events);
  if (next.outbox.length > MAX_OUTBOX) next.outbox.splice(0, next.outbox.length - MAX_OUTBOX);
  return { next, events };
}

/** What the stores say now, as findings, and which kinds were checked this round. */
export async function findings(blobs: BlobStore, state: AlertState, t: AlertThresholds, now: number): Promise<{ findings: Finding[]; checked: Set<AlertKind>; quietChecked: boolean }> {
  const out: Finding[] = [];
  const checked = new Set<AlertKind>(['tick-failing', 'backlog', 'quarantine']);
  const tick = await readTickRecord(blobs);
  if (tick) out.push(...tickFindings(tick, t, now));
  for await (const o of blobs.list(Remote.quarantinePrefix)) {
    const m = /^([^/]+)\/([0-9a-f]{12})\.json$/.exec(o.key.slice(Remote.quarantinePrefix.length));
    if (!m) continue;
    const id = `quarantine:${m[1]}:${m[2]}`;
    // A quarantine record is written once: an alert already open (or acknowledged) for it has
    // its words, so each tick reads only the records it has not seen.
    const known = state.open[id] ?? (state.acked[id] ? { message: '' } : null);
    if (known) {
      out.push({ id, kind: 'quarantine', severity: 'error', message: known.message });
      continue;
    }
    const q = await readJson<{ reason?: string; ts?: string }>(blobs, o.key).catch(() => null);
    out.push({ id, kind: 'quarantine', severity: 'error', message: `${m[1]}:${m[2]} was quarantined${q?.ts ? ` at ${q.ts}` : ''}: ${q?.reason ?? 'its bytes are not what was endorsed'}; it will never be promoted (acknowledge to close)` });
  }
  const due = !state.quietCheckedAt || now - Date.parse(state.quietCheckedAt) >= t.quietCheckMinutes * 60_000;
  if (due) {
    checked.add('tenant-quiet');
    out.push(...(await quietFindings(blobs, t, now)));
  }
  return { findings: out, checked, quietChecked: due };
}

export function tickFindings(tick: TickRecord, t: AlertThresholds, now: number): Finding[] {
  const out: Finding[] = [];
  if (!tick.ok && tick.failures >= t.tickFailures) {
    out.push({ id: 'tick-failing', kind: 'tick-failing', severity: 'error', message: `the last ${tick.failures} ticks failed (the last at ${tick.ts}: ${tick.error ?? 'no message'}); nothing is promoted until a tick succeeds${tick.lastOk ? ` (last good tick ${tick.lastOk})` : ''}` });
  }
  if (tick.backlogSince && now - Date.parse(tick.backlogSince) >= t.backlogMinutes * 60_000) {
    const min = Math.floor((now - Date.parse(tick.backlogSince)) / 60_000);
    out.push({ id: 'backlog', kind: 'backlog', severity: 'warning', message: `every tick for ${min} minutes (since ${tick.backlogSince}) has left aggregate batches waiting (${tick.backlog ?? '?'} at the last one): ticks run out of time before they catch up; raise tick.budgetMs or look for a flood of batches` });
  }
  return out;
}

/** Admitted tenants with no request for `quietHours` (counted from their admission when never seen). */
async function quietFindings(blobs: BlobStore, t: AlertThresholds, now: number): Promise<Finding[]> {
  const seen = await listSeen(blobs);
  const out: Finding[] = [];
  for await (const o of blobs.list(Remote.registryTenantsPrefix)) {
    const id = o.key.slice(Remote.registryTenantsPrefix.length).replace(/\.json$/, '');
    const rec = await getTenant(blobs, id).catch(() => null);
    const f = rec ? quietFinding(rec, seen.get(id), t, now) : null;
    if (f) out.push(f);
  }
  return out;
}

export function quietFinding(rec: TenantRecord, seen: SeenRecord | undefined, t: AlertThresholds, now: number): Finding | null {
  if (!isAdmitted(rec)) return null;
  const last = seen?.lastSeen ?? rec.admittedAt;
  const hours = (now - Date.parse(last)) / 3_600_000;
  if (!(hours >= t.quietHours)) return null;
  return { id: `tenant-quiet:${rec.tenant}`, kind: 'tenant-quiet', severity: 'warning', tenant: rec.tenant, message: `tenant ${rec.tenant} has made no request for ${Math.floor(hours)} hours (${seen ? `last seen ${seen.lastSeen}` : `never seen since its admission at ${rec.admittedAt}`}): its machines' cron may have stopped, or its key changed (snappy doctor on one of its machines)` };
}

/**
 * One evaluation, stored: reads what holds now, applies it to the state with a
 * compare-and-swap, writes each event to the alert log, and returns the events and the state.
 */
export async function updateAlerts(blobs: BlobStore, t: AlertThresholds, now = Date.now()): Promise<{ state: AlertState; events: AlertEvent[] }> {
  const prev = await readAlertState(blobs);
  const found = await findings(blobs, prev, t, now);
  let events: AlertEvent[] = [];
  const state = await updateJson<AlertState>(blobs, Remote.alerts, emptyAlertState, (cur) => {
    const r = evaluate({ ...emptyAlertState(), ...cur }, found.findings, found.checked, now);
    events = r.events;
    if (found.quietChecked) r.next.quietCheckedAt = new Date(now).toISOString();
    return r.next;
  }, { check: isState });
  for (const e of events) await logEvent(blobs, e.event, e.alert, e.at);
  return { state, events };
}

/** Acknowledges an open alert: closed now, not opened again while its condition lasts. */
export async function ackAlert(blobs: BlobStore, id: string, by: string, now = Date.now()): Promise<boolean> {
  const at = new Date(now).toISOString();
  let closed: Alert | undefined;
  await updateJson<AlertState>(blobs, Remote.alerts, emptyAlertState, (cur) => {
    const a = cur.open?.[id];
    if (!a) return null;
    closed = a;
    const open = { ...cur.open };
    delete open[id];
    return { ...emptyAlertState(), ...cur, open, acked: { ...(cur.acked ?? {}), [id]: { by, at } } };
  }, { check: isState });
  if (closed) await logEvent(blobs, 'acked', closed, at, by);
  return !!closed;
}

/** The alerts a tenant should hear of: the fleet's and its own. */
export function alertsFor(state: AlertState, tenant: string | undefined): Alert[] {
  return Object.values(state.open).filter((a) => !a.tenant || a.tenant === tenant).sort((a, b) => (a.opened < b.opened ? -1 : 1));
}

/** Newest alert-log entries first. */
export async function alertLog(blobs: BlobStore, limit = 100): Promise<{ ts: string; event: string; alert: Alert; by?: string }[]> {
  const keys: string[] = [];
  for await (const o of blobs.list(Remote.alertLogPrefix)) keys.push(o.key);
  const out: { ts: string; event: string; alert: Alert; by?: string }[] = [];
  for (const k of keys.slice(-limit).reverse()) {
    const e = await readJson<{ ts: string; event: string; alert: Alert; by?: string }>(blobs, k).catch(() => null);
    if (e) out.push(e);
  }
  return out;
}

async function logEvent(blobs: BlobStore, event: string, alert: Alert, at: string, by?: string): Promise<void> {
  const id = `${event}-${alert.id.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 200);
  await blobs.put(Remote.alertLog(Date.parse(at), id), JSON.stringify({ ts: at, event, alert, ...(by ? { by } : {}) }), { ifAbsent: true, contentType: 'application/json' }).catch(() => false);
}
