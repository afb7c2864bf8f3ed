import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../adapters/fs.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import type { Logger } from '../core/ports.ts';
import { isTenantId } from '../domain/names.ts';
import { State } from '../domain/state-layout.ts';
import { RELEASE, STATE } from '../domain/versions.ts';
import { MASTER_KEY_FILE } from './master-key.ts';

/**
 * `.snappy/state.json`: the format of this state dir and whose it is. The tenant is kept so
 * that a machine notices when its master key changes (a rotation), and can say which tenant
 * the rows it has not shipped yet belong to.
 */
export interface StateMarker {
  v: number;
  /** The tenant whose key last wrote this state dir; null before any run with a key. */
  tenant: string | null;
  /** Tenants whose keys wrote it before, oldest first (key rotations). */
  formerTenants: string[];
  /** The release that last wrote the marker. */
  release: string;
  /** When the marker was first written. */
  since: string;
  /** The last migration: from which version, when, how long it took. */
  migrated?: { from: number; at: string; ms: number };
}

/** What opening a state dir found and did. */
export interface StateCheck {
  /** The version on disk before this run (1 for a state dir without a marker). */
  found: number;
  marker: StateMarker | null;
  /** Set when this run migrated the state dir. */
  migrated?: { from: number; to: number; ms: number };
  /** Set when this run found a different tenant than the last one (the key changed). */
  rekeyed?: { from: string; to: string };
  /**
   * No marker and nothing an earlier run left: a new state dir, not one to migrate. Found when
   * the command starts, before it writes anything of its own (a machine id, the lock).
   */
  fresh?: boolean;
}

const file = (stateDir: string) => path.join(stateDir, State.stateMarker);

/** The marker, or null for a state dir made before state versions (or not made yet). */
export async function readStateMarker(stateDir: string): Promise<StateMarker | null> {
  let m: StateMarker | undefined;
  try {
    m = await readJsonFile<StateMarker>(file(stateDir));
  } catch (err) {
    throw new SnappyError(`${file(stateDir)} is not valid JSON: it names the state dir's version; restore it, or remove it to have it written again`, { code: ErrorCode.Config, details: { path: file(stateDir) }, cause: err });
  }
  if (m === undefined) return null;
  if (!m || typeof m !== 'object' || !Number.isSafeInteger(m.v) || m.v < 1) {
    throw new SnappyError(`${file(stateDir)}: "v" must be a state version (a positive integer), found ${JSON.stringify((m as { v?: unknown } | null)?.v)}`, { code: ErrorCode.Config, details: { path: file(stateDir) } });
  }
  return m;
}

/**
 * Checks the state dir's version before any work: a state dir written by a newer release is
 * refused (E_VERSION, exit 2), since this one cannot know what changed. With `write`, an older
 * state dir is migrated now and the marker kept current (the tenant of this run's key noted,
 * a changed key recorded). Without it, nothing is written: an older state dir is read as it is.
 */
export async function openStateVersion(stateDir: string, opts: { write: boolean; tenant?: string | undefined; log: Logger; fresh?: boolean }): Promise<StateCheck> {
  const marker = await readStateMarker(stateDir);
  const found = marker?.v ?? 1;
  if (found > STATE) {
    throw new SnappyError(
      `state dir ${stateDir} is state version ${found}, written by snappy ${marker?.release ?? 'newer'}; this snappy (${RELEASE}) knows state versions up to ${STATE}: upgrade snappy on this machine (docs/operate.md "Upgrade")`,
      { code: ErrorCode.Version, details: { path: file(stateDir), found, known: STATE } },
    );
  }
  if (!opts.write) return marker ? { found, marker } : { found, marker, fresh: !(await hasState(stateDir)) };
  const now = new Date().toISOString();
  const tenant = opts.tenant ?? null;
  if (!marker) {
    const t0 = performance.now();
    const fresh = opts.fresh ?? !(await hasState(stateDir));
    // A state dir of the release before versions holds its tenant only implicitly: in the
    // tenant field of its own aggregate rows and in the keys of the pages it pushed.
    const before = fresh ? null : await tenantOfV1(stateDir);
    const next: StateMarker = { v: STATE, tenant: tenant ?? before, formerTenants: before && tenant && before !== tenant ? [before] : [], release: RELEASE, since: now };
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    if (!fresh) next.migrated = { from: 1, at: now, ms };
    await writeJsonAtomic(file(stateDir), next);
    const res: StateCheck = { found, marker: next };
    if (!fresh) {
      res.migrated = { from: 1, to: STATE, ms };
      opts.log.info(`state dir ${stateDir}: migrated from state version 1 to ${STATE} in ${ms} ms (.snappy/state.json written${before ? `; it was tenant ${before}'s` : ''})`);
    }
    if (before && tenant && before !== tenant) res.rekeyed = { from: before, to: tenant };
    return res;
  }
  if (tenant && marker.tenant !== tenant) {
    const former = marker.tenant && !marker.formerTenants.includes(marker.tenant) ? [...marker.formerTenants, marker.tenant] : marker.formerTenants;
    const next: StateMarker = { ...marker, tenant, formerTenants: former.filter((t) => t !== tenant), release: RELEASE };
    await writeJsonAtomic(file(stateDir), next);
    return { found, marker: next, ...(marker.tenant ? { rekeyed: { from: marker.tenant, to: tenant } } : {}) };
  }
  if (marker.release !== RELEASE) {
    const next = { ...marker, release: RELEASE };
    await writeJsonAtomic(file(stateDir), next);
    return { found, marker: next };
  }
  return { found, marker };
}

/**
 * Files in `.snappy/` that say nothing of an earlier release's runs: the lock, the marker
 * itself, and the master key `snappy init` keeps there when it sets a state dir up.
 */
const NOT_STATE = new Set(['lock', path.basename(State.stateMarker), path.basename(MASTER_KEY_FILE)]);

/** True when an earlier run left internal state here (anything else in `.snappy/`). */
async function hasState(stateDir: string): Promise<boolean> {
  const entries = await fs.readdir(path.join(stateDir, State.internalDir)).catch(() => [] as string[]);
  return entries.some((e) => !NOT_STATE.has(e));
}

/**
 * The tenant a state dir of state version 1 belonged to: the tenant of its own aggregate rows
 * (the ranges `.snappy/aggregate.json` lists), else the tenant in the keys of the pages its
 * sync manifests record. Null when it never ran with a key.
 */
async function tenantOfV1(stateDir: string): Promise<string | null> {
  const commit = await readJsonFile<{ own?: [number, number][] }>(path.join(stateDir, State.internal('aggregate.json'))).catch(() => undefined);
  const first = commit?.own?.[0];
  if (first) {
    const fh = await fs.open(path.join(stateDir, State.aggregate), 'r').catch(() => undefined);
    if (fh) {
      try {
        const len = Math.min(first[1] - first[0], 64 * 1024);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, first[0]);
        const m = /"tenant":"([0-9a-f]{12})"/.exec(buf.toString('utf8'));
        if (m && isTenantId(m[1])) return m[1]!;
      } finally {
        await fh.close();
      }
    }
  }
  const dir = path.join(stateDir, State.internal('sync'));
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const man = await readJsonFile<{ files?: Record<string, { key?: string }> }>(path.join(dir, name)).catch(() => undefined);
    for (const f of Object.values(man?.files ?? {})) {
      const m = /^snappy-(?:tenants|briefs)\/([0-9a-f]{12})\//.exec(f.key ?? '');
      if (m) return m[1]!;
    }
  }
  return null;
}
