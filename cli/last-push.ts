import path from 'node:path';
import { readJsonFile, writeJsonRenamed } from '../adapters/fs.ts';
import { State } from '../domain/state-layout.ts';

/** `.snappy/last-push.json`: how this machine's last push went (never synced). */
export interface PushRecord {
  ts: string;
  ok: boolean;
  /** The failure's message, when it failed. */
  error?: string;
  /** When the last push that went well ended (ISO), if one did. */
  lastOk?: string;
}

export async function readPushRecord(stateDir: string): Promise<PushRecord | null> {
  return (await readJsonFile<PushRecord>(path.join(stateDir, State.lastPush)).catch(() => undefined)) ?? null;
}

/** Records a push that ended now; a failure keeps the time of the last one that went well. */
export async function recordPush(stateDir: string, outcome: { ok: boolean; error?: string }): Promise<void> {
  const ts = new Date().toISOString();
  const prev = outcome.ok ? null : await readPushRecord(stateDir);
  const rec: PushRecord = { ts, ok: outcome.ok, ...(outcome.error ? { error: outcome.error.slice(0, 500) } : {}), ...(outcome.ok ? { lastOk: ts } : prev?.lastOk ? { lastOk: prev.lastOk } : {}) };
  // Renamed into place, not synced to disk: a kill leaves the old record or this one, and a
  // record a power cut loses is only what `snappy doctor` says of the last push.
  await writeJsonRenamed(path.join(stateDir, State.lastPush), rec);
}
