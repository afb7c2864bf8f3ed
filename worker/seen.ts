import { readSeen, writeSeen, type SeenRecord } from '../domain/health.ts';
import { HEADER_CLIENT, HEADER_PROTOCOL, protocolOf, releaseOf } from '../domain/versions.ts';
import type { Stores } from './bindings.ts';

/** How often one isolate writes a tenant's seen record at most, unless its release changes. */
export const SEEN_EVERY_MS = 5 * 60_000;

/** What this isolate last wrote per tenant: a request every second must not be a write every second. */
const written = new Map<string, { at: number; ingestAt: number; client: string | null; protocol: number }>();

/**
 * Notes a tenant's authenticated request in `snappy-health/seen/<tenant>.json`: when, with which
 * release and protocol, and when it last shipped a batch (`ingest`). For the ops page's fleet
 * view and the quiet-tenant alert, so minutes of precision are enough: at most one write per
 * tenant per SEEN_EVERY_MS per isolate, unless the release changed.
 */
export async function noteSeen(stores: Stores, tenant: string, req: Request, opts: { ingest: boolean; now?: number }): Promise<void> {
  const now = opts.now ?? Date.now();
  const client = req.headers.get(HEADER_CLIENT);
  const release = client && releaseOf(client) ? client.trim() : null;
  const protocol = protocolOf(req.headers.get(HEADER_PROTOCOL)) ?? 0;
  const last = written.get(tenant);
  const due = !last || now - last.at >= SEEN_EVERY_MS || last.client !== release || last.protocol !== protocol || (opts.ingest && now - last.ingestAt >= SEEN_EVERY_MS);
  if (!due) return;
  written.set(tenant, { at: now, ingestAt: opts.ingest ? now : (last?.ingestAt ?? 0), client: release, protocol });
  if (written.size > 10_000) written.clear();
  const prev = await readSeen(stores.blobs, tenant).catch(() => null);
  // To the minute: a request's exact time could be matched against the times of a tenant's runs.
  const iso = new Date(Math.floor(now / 60_000) * 60_000).toISOString();
  const rec: SeenRecord = { tenant, lastSeen: iso, client: release, protocol, ...(opts.ingest ? { lastIngest: iso } : prev?.lastIngest ? { lastIngest: prev.lastIngest } : {}) };
  await writeSeen(stores.blobs, rec);
}
