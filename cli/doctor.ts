import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isSnappyError } from '../core/errors.ts';
import type { BlobStore } from '../core/ports.ts';
import { alertsFor, readAlertState, type Alert } from '../domain/alerts.ts';
import { readTickRecord, type TickRecord } from '../domain/health.ts';
import { keyStrength, STRONG_KEY_HOWTO } from '../domain/key-strength.ts';
import { getTenant } from '../domain/registry.ts';
import { readLayout } from '../domain/remote-version.ts';
import { LAYOUT, MIN_WORKER_PROTOCOL, PROTOCOL, RELEASE, STATE } from '../domain/versions.ts';
import type { Cli } from './context.ts';
import { readPushRecord } from './last-push.ts';
import { machineIdFor } from './machine-id.ts';

/** One check of `snappy doctor`. */
export interface Check {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  message: string;
  /** What to do about a warning or a failure. */
  fix?: string;
  ms: number;
}

/** A push or a tick older than this is stale: cron runs them every few minutes. */
const PUSH_STALE_MS = 48 * 3_600_000;
const TICK_STALE_MS = 10 * 60_000;

type Verdict = Omit<Check, 'name' | 'ms'>;
const pass = (message: string): Verdict => ({ status: 'pass', message });
const warn = (message: string, fix?: string): Verdict => ({ status: 'warn', message, ...(fix ? { fix } : {}) });
const fail = (message: string, fix?: string): Verdict => ({ status: 'fail', message, ...(fix ? { fix } : {}) });
const skip = (message: string): Verdict => ({ status: 'skip', message });

/** What the Worker said, for the checks that follow the first request. */
interface WorkerFacts {
  version?: { worker: string; protocol: number; minClientProtocol: number; layout: { known: number; remote: number | null }; now: number; windowMs: number; rttMs: number; at: number };
  versionError?: string;
  whoami?: { record: { tenant: string; admittedAt: string; admittedBy: string; formerIds?: string[] }; seen: { lastSeen: string; lastIngest?: string } | null; lastTick: TickRecord | null; alerts: Alert[] };
  whoamiError?: { message: string; status?: number; code?: string };
}

/**
 * `snappy doctor` (docs/operate.md "Admit"): is this machine set up right for its tenant? Every
 * check runs whatever the others found, each says pass, warn, fail or skip, and a warning or
 * failure says what to do. Reads only: nothing in the state dir or the remote is written.
 */
export async function runDoctor(cli: Cli): Promise<Check[]> {
  const checks: Check[] = [];
  const run = async (name: string, f: () => Promise<Verdict>) => {
    const t0 = performance.now();
    let v: Verdict;
    try {
      v = await f();
    } catch (err) {
      v = fail(`could not check: ${(err as Error).message}`);
    }
    checks.push({ name, ...v, ms: Math.round(performance.now() - t0) });
  };
  const tenant = cli.identity.tenant;
  const facts: WorkerFacts = {};
  let blobs: BlobStore | undefined;

  await run('config', async () => pass(`${cli.configFile ?? 'no config file (defaults)'}; ${cli.mode} mode, ${cli.mode === 'worker' ? 'Worker' : 'remote'} ${cli.remoteUrl}; plugins ${cli.runner.plugins.join(', ') || 'none'}`));
  await run('state', async () => {
    const st = await fs.stat(cli.stateDir).catch(() => null);
    if (!st?.isDirectory()) return fail(`state dir ${cli.stateDir} does not exist`, 'run snappy eval or snappy run push --auto once here, or name the right one with --state / SNAPPY_STATE');
    if (cli.state.found < STATE) return warn(`state dir ${cli.stateDir} is state version ${cli.state.found}; this snappy writes ${STATE}`, 'nothing to do: the next snappy run that writes it (push --auto from cron) migrates it');
    return pass(`state dir ${cli.stateDir}, state version ${cli.state.found}`);
  });
  await run('master-key', async () => {
    const key = cli.identity.masterKey;
    if (!key) return fail('SNAPPY_MASTER_KEY is not set: no aggregate is made or shipped, the pages do not sync, and in Worker mode nothing reaches the Worker', `set SNAPPY_MASTER_KEY to the tenant's key on every machine of the tenant (a new tenant makes one with: ${STRONG_KEY_HOWTO})`);
    const s = keyStrength(key);
    if (!s.strong) return fail(`the master key carries at most ${Math.floor(s.bits)} bits (${s.length} characters of ${s.alphabet}), fewer than 128: its tenant id is public, so it can be guessed offline`, `make a strong key (${STRONG_KEY_HOWTO}) and move the tenant to it: docs/operate.md "Rotate a key"`);
    const former = cli.state.marker?.formerTenants ?? [];
    return pass(`tenant ${tenant}, ${Math.floor(s.bits)} bits${former.length ? `; this state dir was tenant ${former.join(', ')}'s before (a key change)` : ''}`);
  });
  await run('machine-id', async () => {
    if (process.env.SNAPPY_MACHINE_ID) return pass(`${cli.identity.machine} (SNAPPY_MACHINE_ID)`);
    if (cli.config.machineId) return pass(`${cli.identity.machine} (config machineId)`);
    const got = await machineIdFor(cli.stateDir, { write: false });
    if (got.source === 'stored') return pass(`${got.id} (stored in .snappy/machine-id)`);
    return warn('no machine id stored yet: each read-only run uses a provisional pseudonym', 'run snappy run push --auto once (it stores one), or set SNAPPY_MACHINE_ID');
  });

  if (cli.mode === 'worker') {
    await run('remote', async () => {
      const v = await workerVersion(cli);
      if ('error' in v) {
        facts.versionError = v.error;
        return fail(`the Worker at ${cli.remoteUrl} did not answer GET /v1/version: ${v.error}`, 'check worker.url in the config, this machine\'s network, and that the Worker is deployed (npx wrangler deploy)');
      }
      if (v.status === 404) {
        facts.versionError = 'no /v1/version';
        return warn(`the Worker at ${cli.remoteUrl} answers, but has no /v1/version (${v.rttMs} ms): it is older than protocol 2`, 'upgrade the Worker (npx wrangler deploy from a current snappy): docs/operate.md "Upgrade"');
      }
      facts.version = { ...v.body, rttMs: v.rttMs, at: v.at };
      return pass(`the Worker at ${cli.remoteUrl} answers in ${v.rttMs} ms (snappy ${v.body.worker})`);
    });
    await run('versions', async () => {
      const v = facts.version;
      if (!v) return skip('the Worker did not say its versions');
      if (v.protocol < MIN_WORKER_PROTOCOL) return fail(`the Worker speaks protocol ${v.protocol}; this snappy (${RELEASE}) needs ${MIN_WORKER_PROTOCOL} or newer`, 'upgrade the Worker (npx wrangler deploy)');
      if (PROTOCOL < v.minClientProtocol) return fail(`the Worker serves clients of protocol ${v.minClientProtocol} or newer; this snappy (${RELEASE}) speaks ${PROTOCOL}`, 'upgrade snappy on this machine (npm i snappy-os@latest, or pull this repository)');
      if (v.layout.remote !== null && v.layout.remote > LAYOUT) return warn(`the bucket is laid out as layout ${v.layout.remote}; this snappy knows up to ${LAYOUT} (the Worker handles the bucket, so this machine works, but it is behind)`, 'upgrade snappy on this machine');
      return pass(`Worker snappy ${v.worker} protocol ${v.protocol} (serves ${v.minClientProtocol}+), this snappy ${RELEASE} protocol ${PROTOCOL}; bucket layout ${v.layout.remote ?? 'not marked yet'}`);
    });
    await run('clock', async () => {
      const v = facts.version;
      if (!v) return skip('the Worker did not say its time');
      // The Worker read its clock about halfway through the round trip.
      const skew = v.at + v.rttMs / 2 - v.now;
      const s = Math.round(skew / 100) / 10;
      if (Math.abs(skew) > v.windowMs / 2) return fail(`this machine's clock is ${s} s off the Worker's; signed requests more than ${v.windowMs / 1000} s off are refused`, 'set the clock right (enable NTP: timedatectl set-ntp true)');
      if (Math.abs(skew) > v.windowMs / 10) return warn(`this machine's clock is ${s} s off the Worker's (refused beyond ${v.windowMs / 1000} s)`, 'enable NTP before it drifts further');
      return pass(`${s} s off the Worker's clock (refused beyond ±${v.windowMs / 1000} s)`);
    });
    await run('admission', async () => {
      if (!cli.identity.masterKey) return skip('no master key: nothing to admit');
      if (facts.versionError) return skip('the Worker is not reachable (or too old to say)');
      try {
        const remote = (await cli.taskContext('doctor').remote()) as unknown as { whoami(): Promise<WorkerFacts['whoami']> };
        facts.whoami = await remote.whoami();
      } catch (err) {
        const d = isSnappyError(err) ? (err.details as { status?: number; workerCode?: string } | undefined) : undefined;
        facts.whoamiError = { message: (err as Error).message, ...(d?.status ? { status: d.status } : {}), ...(d?.workerCode ? { code: d.workerCode } : {}) };
        const code = facts.whoamiError.code;
        if (code === 'E_NOT_ADMITTED') return fail(`tenant ${tenant} is not admitted on the Worker`, `run snappy ops key here and hand its two lines to the operator (snappy ops tenants admit ${tenant} <public key>)`);
        if (code === 'E_REVOKED') return fail(`tenant ${tenant} was revoked on the Worker: ${(err as Error).message}`, 'ask the operator why; a revoked tenant is admitted again with snappy ops tenants admit');
        if (code === 'E_ROTATED') return fail(`this machine uses a retired key: ${(err as Error).message}`, 'set SNAPPY_MASTER_KEY to the tenant\'s new key on this machine');
        return fail(`the Worker refused this tenant's signed request: ${(err as Error).message}`, 'see the message; a clock far off or a key the Worker does not know are the usual causes');
      }
      const w = facts.whoami!;
      const former = cli.state.marker?.formerTenants ?? [];
      const unlinked = former.filter((f) => !(w.record.formerIds ?? []).includes(f));
      if (unlinked.length) return fail(`admitted as tenant ${tenant}, but this state dir was tenant ${unlinked.join(', ')}'s before and the Worker does not know them as the same tenant: their runs count as another tenant's and their unshipped rows are refused`, `ask the operator to link them: snappy ops rotate ${unlinked[unlinked.length - 1]} ${tenant} <public key from snappy ops key>`);
      return pass(`tenant ${tenant} admitted ${w.record.admittedAt} by ${w.record.admittedBy}${w.record.formerIds?.length ? `; former ids ${w.record.formerIds.join(', ')} count as this tenant` : ''}`);
    });
  } else {
    await run('remote', async () => {
      await cli.checkRemote('read');
      const t0 = performance.now();
      blobs = await cli.taskContext('doctor').remote();
      const found = await readLayout(blobs);
      if (found.layout > LAYOUT) return fail(`${cli.remoteUrl} is laid out as layout ${found.layout}; this snappy (${RELEASE}) knows layouts up to ${LAYOUT}`, 'upgrade snappy on this machine (docs/operate.md "Upgrade")');
      return pass(`${cli.remoteUrl} answers in ${Math.round(performance.now() - t0)} ms; layout ${found.marker ? found.layout : `not marked yet (layout 1; the first tick marks it)`}`);
    });
    await run('versions', async () => pass(`this snappy ${RELEASE}: protocol ${PROTOCOL}, layout ${LAYOUT}, state ${STATE} (direct mode: no Worker to agree with)`));
    await run('clock', async () => skip('direct mode: requests are not signed, so no clock is compared'));
    await run('admission', async () => {
      if (!tenant || !blobs) return skip(!tenant ? 'no master key' : 'the remote is not reachable');
      const rec = await getTenant(blobs, tenant);
      if (rec?.rotatedTo) return fail(`tenant ${tenant}'s key was retired at ${rec.rotatedAt} (moved to ${rec.rotatedTo})`, 'set SNAPPY_MASTER_KEY to the tenant\'s new key on this machine');
      if (rec?.revokedAt) return warn(`tenant ${tenant} was revoked in the registry at ${rec.revokedAt} (direct mode counts every tenant's batches; a Worker would refuse it)`, 'ask the operator');
      return skip(`direct mode: every tenant whose batches are in the bucket counts${rec ? ` (tenant ${tenant} is in the registry)` : ''}`);
    });
  }

  await run('last-push', async () => {
    const rec = await readPushRecord(cli.stateDir);
    const shipped = facts.whoami?.seen?.lastIngest ? `; the Worker last stored a batch of this tenant at ${facts.whoami.seen.lastIngest}` : '';
    if (!rec) return warn(`no push recorded from this state dir${shipped}`, 'run snappy run push --auto from cron on this machine');
    if (!rec.ok) return fail(`the last push (${rec.ts}) failed: ${rec.error ?? 'no message'}${rec.lastOk ? `; the last good one was ${rec.lastOk}` : ''}`, 'run snappy run push --auto by hand and read its message');
    const age = Date.now() - Date.parse(rec.ts);
    if (age > PUSH_STALE_MS) return warn(`the last push was ${Math.round(age / 3_600_000)} hours ago (${rec.ts})${shipped}`, 'check the cron job of this machine (snappy run push --auto)');
    return pass(`the last push went well ${ago(age)} (${rec.ts})${shipped}`);
  });
  await run('last-tick', async () => {
    let tick: TickRecord | null;
    if (cli.mode === 'worker') {
      if (!facts.whoami) return skip('the Worker did not answer for this tenant');
      tick = facts.whoami.lastTick;
    } else {
      if (!blobs) return skip('the remote is not reachable');
      tick = await readTickRecord(blobs);
    }
    const who = cli.mode === 'worker' ? "the Worker's cron" : 'snappy run tick (cron, direct mode)';
    if (!tick) return warn(`no tick recorded yet: nothing is promoted until ${who} runs`, cli.mode === 'worker' ? 'check the Worker\'s cron trigger (wrangler.toml [triggers])' : 'run snappy run tick --remote ... from cron on one machine');
    if (!tick.ok) return fail(`the last tick (${tick.ts}) failed, ${tick.failures} in a row: ${tick.error ?? 'no message'}`, cli.mode === 'worker' ? 'read the Worker\'s log (npx wrangler tail) and the ops page\'s alerts' : 'run snappy run tick by hand and read its message');
    const age = Date.now() - Date.parse(tick.ts);
    if (age > TICK_STALE_MS) return fail(`the last tick was ${ago(age)} (${tick.ts}): ${who} is not running`, cli.mode === 'worker' ? 'check the cron trigger and the Worker\'s log' : 'check the cron job that runs snappy run tick');
    return pass(`the last tick went well ${ago(age)}${tick.backlog ? `; it left ${tick.backlog} batch(es) for the next one` : ''}`);
  });
  await run('conflicts', async () => {
    const found = await incomingFiles(cli.stateDir);
    if (found.length) return fail(`${found.length} file(s) with an unresolved pull conflict, not pushed until resolved: ${found.slice(0, 5).join(', ')}${found.length > 5 ? ', ...' : ''}`, `merge each <file>.incoming into <file> (the remote's version beside your edit), then delete the .incoming file`);
    return pass('no pull conflicts waiting');
  });
  await run('alerts', async () => {
    let alerts: Alert[];
    if (cli.mode === 'worker') {
      if (!facts.whoami) return skip('the Worker did not answer for this tenant');
      alerts = facts.whoami.alerts ?? [];
    } else {
      if (!blobs) return skip('the remote is not reachable');
      alerts = alertsFor(await readAlertState(blobs), tenant);
    }
    if (!alerts.length) return pass('no open alert concerns this tenant');
    const text = alerts.map((a) => `${a.id}: ${a.message}`).join('; ');
    return alerts.some((a) => a.severity === 'error') ? fail(text, 'tell the operator (snappy ops alerts)') : warn(text);
  });
  return checks;
}

function ago(ms: number): string {
  if (ms < 90_000) return `${Math.max(0, Math.round(ms / 1000))} s ago`;
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} hours ago`;
}

/** `GET /v1/version` of the Worker, timed; unsigned, so it answers whatever the key. */
async function workerVersion(cli: Cli): Promise<{ status: 200; body: { worker: string; protocol: number; minClientProtocol: number; layout: { known: number; remote: number | null }; now: number; windowMs: number }; rttMs: number; at: number } | { status: 404; rttMs: number } | { error: string }> {
  const { httpRequest, DEFAULT_TIMEOUTS } = await import('../adapters/http-client.ts');
  const w = cli.config.worker!;
  const t0 = Date.now();
  try {
    const ans = await httpRequest(`${cli.remoteUrl.replace(/\/+$/, '')}/v1/version`, { method: 'GET', what: 'asking the Worker its version', timeouts: { connectMs: w.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs, responseMs: w.timeoutMs ?? DEFAULT_TIMEOUTS.responseMs } });
    const rttMs = Date.now() - t0;
    if (ans.status === 404) return { status: 404, rttMs };
    if (ans.status !== 200) return { error: `HTTP ${ans.status}: ${ans.body.toString('utf8').slice(0, 200)}` };
    return { status: 200, body: JSON.parse(ans.body.toString('utf8')), rttMs, at: t0 };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Files with an unresolved `.incoming` copy beside them (sync keeps the remote's version there). */
async function incomingFiles(stateDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (rel === '' && (e.name === '.snappy' || e.name === 'ready')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else if (e.name.endsWith('.incoming')) out.push(r.slice(0, -'.incoming'.length));
    }
  };
  await walk(stateDir, '');
  return out.sort();
}
