import type { BlobStore } from '../core/ports.ts';
import { nullIfMalformed, readJson } from './json-store.ts';
import { Remote } from './layout.ts';
import { isTenantId } from './names.ts';

/** `snappy-health/tick.json`: how the last full tick went (the cron's heartbeat). */
export interface TickRecord {
  /** When the last tick started (ISO). */
  ts: string;
  ok: boolean;
  ms: number;
  runtime: 'node' | 'worker';
  /** The failure's message, when it failed. */
  error?: string;
  /** Ticks in a row that failed, this one included (0 when it went well). */
  failures: number;
  /** When the last tick that went well started (ISO), if any did. */
  lastOk?: string;
  /** Promotions this tick made, batches it took in and batches it left for the next tick. */
  promoted?: number;
  batches?: number;
  backlog?: number;
  /** Revs this tick quarantined (`skill:rev`). */
  quarantined?: string[];
  /** Since when every tick has left batches waiting (ISO): the start of the current backlog. */
  backlogSince?: string;
}

const isTick = (v: unknown): boolean => !!v && typeof v === 'object' && typeof (v as TickRecord).ts === 'string' && typeof (v as TickRecord).ok === 'boolean';

export async function readTickRecord(blobs: BlobStore): Promise<TickRecord | null> {
  return readJson<TickRecord>(blobs, Remote.lastTick, isTick).catch(nullIfMalformed);
}

/**
 * What a tick's results say of its quorum work (the quorum plugin's `results.quorum`), read
 * defensively: a config without the quorum plugin ticks too.
 */
export function tickSummary(results: Record<string, unknown>): Pick<TickRecord, 'promoted' | 'batches' | 'backlog' | 'quarantined'> {
  const q = results.quorum as { promoted?: unknown[]; scan?: { batches?: number; backlog?: number }; quarantined?: { rev?: string }[] } | undefined;
  if (!q || typeof q !== 'object') return {};
  return {
    promoted: Array.isArray(q.promoted) ? q.promoted.length : 0,
    batches: Number(q.scan?.batches ?? 0),
    backlog: Number(q.scan?.backlog ?? 0),
    quarantined: Array.isArray(q.quarantined) ? q.quarantined.map((x) => String(x?.rev ?? '')).filter(Boolean) : [],
  };
}

/** Writes the record of a tick that just ended, counting failures in a row. Last writer wins: it is a heartbeat. */
export async function recordTick(blobs: BlobStore, rec: Omit<TickRecord, 'failures' | 'lastOk' | 'backlogSince'>): Promise<TickRecord> {
  const prev = await readTickRecord(blobs).catch(() => null);
  const next: TickRecord = { ...rec, failures: rec.ok ? 0 : (prev?.failures ?? 0) + 1, ...(rec.ok ? { lastOk: rec.ts } : prev?.lastOk ? { lastOk: prev.lastOk } : {}) };
  // A failed tick says nothing about the backlog: the streak goes on as it was.
  const backlog = rec.ok ? (rec.backlog ?? 0) > 0 : !!prev?.backlogSince;
  if (backlog) next.backlogSince = prev?.backlogSince ?? rec.ts;
  await blobs.put(Remote.lastTick, JSON.stringify(next), { contentType: 'application/json' });
  return next;
}

/** `snappy-health/seen/<tenant>.json`: when a tenant last made a request, and with which release. */
export interface SeenRecord {
  tenant: string;
  /** Last request (ISO), to the precision the Worker writes it (docs/operate.md "Watch"). */
  lastSeen: string;
  /** Last aggregate batch stored for the tenant (ISO). */
  lastIngest?: string;
  /** `snappy/<release>` the client named, or null for a client before protocols were named. */
  client: string | null;
  protocol: number;
}

const isSeen = (v: unknown): boolean => !!v && typeof v === 'object' && isTenantId((v as SeenRecord).tenant) && typeof (v as SeenRecord).lastSeen === 'string';

export async function readSeen(blobs: BlobStore, tenant: string): Promise<SeenRecord | null> {
  if (!isTenantId(tenant)) return null;
  return readJson<SeenRecord>(blobs, Remote.seen(tenant), isSeen).catch(nullIfMalformed);
}

/** Every tenant's seen record, by tenant. */
export async function listSeen(blobs: BlobStore): Promise<Map<string, SeenRecord>> {
  const out = new Map<string, SeenRecord>();
  for await (const o of blobs.list(Remote.seenPrefix)) {
    const id = o.key.slice(Remote.seenPrefix.length).replace(/\.json$/, '');
    const rec = await readSeen(blobs, id).catch(() => null);
    if (rec) out.set(id, rec);
  }
  return out;
}

export async function writeSeen(blobs: BlobStore, rec: SeenRecord): Promise<void> {
  await blobs.put(Remote.seen(rec.tenant), JSON.stringify(rec), { contentType: 'application/json' });
}
