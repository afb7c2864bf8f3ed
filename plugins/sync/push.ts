import { checkpoint } from '../../core/checkpoint.ts';
import type { PushContext, RunContext } from '../../core/context.ts';
import type { PlanEntry, PushPlan } from '../../core/hooks.ts';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { RemoteStore } from '../../core/ports.ts';
import type { AggregateService, PreparedPush } from '../../core/services.ts';
import { batchIdOf } from '../../domain/ingest-protocol.ts';
import { Remote } from '../../domain/layout.ts';
import { State } from '../../domain/state-layout.ts';
import { Refusal, StateFiles } from './local.ts';
import { loadManifest, saveManifest, type Manifest } from './manifest.ts';
import type { SyncOptions } from './options.ts';
import { INCOMING_SUFFIX, type SyncFilter } from './paths.ts';
import { scanChanges, type ScanResult } from './plan.ts';
import { formatBytes, Progress } from './progress.ts';
import { shipToRemote } from './ship.ts';
import { checkEntry, uploadPlan } from './upload.ts';
import { withRetry } from './retry.ts';

/** What push needs beyond the run. */
export interface PushDeps {
  options: SyncOptions;
  filter: SyncFilter;
  /** The aggregate service, when a plugin provides it. */
  aggregate?: AggregateService | undefined;
}

/** A push between its plan and its sending: what the scan found. */
interface SyncPush extends PreparedPush {
  t0: number;
  tScan: number;
  remote: RemoteStore;
  requests0: number | undefined;
  manifest: Manifest;
  files: StateFiles;
  who: { machine: string; tenant?: string };
  scan: ScanResult;
  outbox: Awaited<ReturnType<AggregateService['outbox']>>;
  aggKey: string | undefined;
}

/**
 * The first half of a push: scan what changed since the last sync and plan it, with the
 * aggregate outbox as one entry (so `beforePush` taps and sync.deny see it).
 */
export async function preparePush(ctx: RunContext, deps: PushDeps): Promise<PreparedPush> {
  const t0 = performance.now();
  const remote = await ctx.remote();
  const requests0 = remote.requests;
  const [manifest, files] = await Promise.all([loadManifest(ctx.stateDir, remote.url), new StateFiles(ctx.stateDir, deps.filter).init()]);
  const who = { machine: ctx.identity.machine, ...(ctx.identity.tenant ? { tenant: ctx.identity.tenant } : {}) };
  const scan = await scanChanges(files, deps.filter, who, manifest);
  const tScan = performance.now();

  // The aggregate outbox rides in the plan as one entry, so plugins (and sync.deny) see it.
  // Asked even without a master key: the aggregate plugin then answers null and prints the one warning.
  const got = deps.aggregate ? await deps.aggregate.outbox(ctx) : null;
  const outbox = got && ctx.identity.tenant && ctx.identity.masterKey ? got : null;
  const entries: PlanEntry[] = [...scan.entries];
  const aggKey = outbox ? Remote.aggregateBatch(ctx.identity.tenant!, await batchIdOf(outbox.ndjson)) : undefined;
  if (outbox) entries.push({ path: State.aggregate, key: aggKey!, kind: 'aggregate', createOnly: true, size: Buffer.byteLength(outbox.ndjson) });
  const prepared: SyncPush = { plan: { entries }, t0, tScan, remote, requests0, manifest, files, who, scan, outbox, aggKey };
  return prepared;
}

/**
 * The second half, once `beforePush` taps have shaped the plan: send it, ship the aggregate
 * outbox as one create-only batch, then record what was sent. `--dry-run` prints the plan and
 * changes nothing, not even the manifest.
 */
export async function sendPush(ctx: PushContext, deps: PushDeps, prepared: PreparedPush, plan: PushPlan): Promise<void> {
  const { t0, tScan, remote, requests0, manifest, files, who, scan, outbox, aggKey } = prepared as SyncPush;
  const dryRun = ctx.dryRun;
  const planned = Array.isArray(plan?.entries) ? plan.entries : [];
  const isAgg = (e: PlanEntry) => !!e && e.kind === 'aggregate' && e.path === State.aggregate;
  // The batch ships only under the key made from its own bytes and tenant, whatever a tap wrote.
  const aggEntry = outbox ? planned.find((e) => isAgg(e) && e.key === aggKey) : undefined;
  const aggRefused = planned.filter((e) => isAgg(e) && e.key !== aggKey).map((e) => ({ path: e.path, reason: `plan entry key ${JSON.stringify(e.key)} is not this batch's key (${aggKey ?? 'no batch to ship'}): a beforePush tap may not choose keys` }));
  const fileEntries = planned.filter((e) => !isAgg(e));
  for (const r of aggRefused) ctx.log.warn(`not pushed: ${r.path} ${r.reason}`);

  // Said by the host, once, with everything else a run without a key skips.
  const skipped = scan.needTenant.length ? { skipped: { reason: 'no SNAPPY_MASTER_KEY', paths: scan.needTenant } } : {};
  for (const r of scan.refused) ctx.log.warn(`not pushed: ${r.path} ${r.reason}`);
  for (const b of scan.blocked) ctx.log.warn(`not pushed: ${b} has an unresolved ${b}${INCOMING_SUFFIX} beside it (merge it into ${b}, then delete the .incoming file)`);

  if (dryRun) {
    const refused = [...scan.refused, ...aggRefused];
    const sendable: PlanEntry[] = [];
    for (const e of fileEntries) {
      try {
        sendable.push(checkEntry(e, who));
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        refused.push({ path: err.rel, reason: err.reason });
        ctx.log.warn(`would not push: ${err.rel} ${err.reason}`);
      }
    }
    for (const e of sendable) ctx.log.info(`would push ${e.path} -> ${e.key}${e.size !== undefined ? ` (${formatBytes(e.size)})` : ''}${e.createOnly ? ' [create-only]' : ''}`);
    if (aggEntry) ctx.log.info(`would ship the aggregate outbox (${outbox!.rows} rows) -> ${remote.shipAggregate ? `${remote.url} (Worker ingest)` : aggEntry.key}`);
    if (!sendable.length && !aggEntry) ctx.log.info('nothing to push');
    ctx.report({ dryRun: true, plan: [...sendable, ...(aggEntry ? [aggEntry] : [])].map((e) => ({ path: e.path, key: e.key, kind: e.kind, size: e.size, createOnly: !!e.createOnly })), unchanged: scan.unchanged, refused, blocked: scan.blocked, ...skipped });
    return;
  }

  let pending = 0;
  let saving: Promise<void> = Promise.resolve();
  // Record progress every so often, so a push killed midway does not redo everything.
  const onRecorded = () => {
    if (++pending >= 200) {
      pending = 0;
      saving = saving.then(() => saveManifest(ctx.stateDir, manifest));
    }
  };
  for (const t of scan.touched) {
    const rec = manifest.files[t.rel];
    if (rec) Object.assign(rec, { size: t.size, mtimeMs: t.mtimeMs });
  }
  const repair = new Set(Object.keys(manifest.inflight ?? {}));
  if (fileEntries.length) {
    manifest.inflight = { ...(manifest.inflight ?? {}), ...Object.fromEntries(fileEntries.filter((e) => typeof e?.key === 'string').map((e) => [e.key, 1 as const])) };
    await saveManifest(ctx.stateDir, manifest);
  }
  const progress = Progress.for('push', fileEntries.length, ctx.flags, fileEntries.reduce((n, e) => n + (typeof e?.size === 'number' ? e.size : 0), 0));
  const retry = { retries: deps.options.retries, baseMs: deps.options.retryBaseMs };
  const up = await uploadPlan(fileEntries, { remote, files, manifest, who, concurrency: deps.options.concurrency, retry, progress, onRecorded, repair, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  progress.end();
  await saving;
  for (const r of up.refused) ctx.log.warn(`not pushed: ${r.path} ${r.reason}`);
  for (const c of up.conflicts) ctx.log.warn(`not pushed: ${c.path}: ${remote.url} holds a version of ${c.key} this machine has not seen; run \`snappy run pull\` (it keeps both copies)`);
  if (ctx.signal?.aborted) {
    // Record what was sent, so that the next push sends only the rest; the outbox stays for it too.
    await saveManifest(ctx.stateDir, manifest);
    const sent = up.uploaded + up.alreadyThere;
    ctx.report({ files: up.uploaded, bytes: up.bytes, alreadyThere: up.alreadyThere, notAttempted: up.notAttempted, interrupted: true });
    throw new SnappyError(`push stopped: ${sent} of ${fileEntries.length} files sent and recorded${outbox ? ', the aggregate not shipped' : ''}`, {
      code: ErrorCode.Interrupted,
      details: { sent, total: fileEntries.length, notSent: up.notAttempted },
    });
  }

  let aggregate: Record<string, unknown> = outbox ? {} : { skipped: !deps.aggregate ? 'aggregate plugin not configured' : !ctx.identity.masterKey ? 'no SNAPPY_MASTER_KEY' : 'nothing new' };
  if (outbox && !aggEntry) aggregate = { skipped: aggRefused.length ? 'refused: a beforePush tap changed its key' : 'dropped from the plan (sync.deny or a beforePush tap)' };
  if (outbox && aggEntry && !up.failed.length) {
    const batch = { key: aggEntry.key, ndjson: outbox.ndjson, tenant: ctx.identity.tenant! };
    if (remote.shipAggregate) {
      // Through the Worker's ingest, split to fit its limits; each piece is its own batch.
      const shipped = await withRetry(() => remote.shipAggregate!(outbox.ndjson), retry);
      aggregate = { rows: outbox.rows, batches: shipped.batches, requests: shipped.requests, via: 'worker', ...(outbox.collisions ? { collisions: outbox.collisions } : {}) };
      for (const k of shipped.batches) manifest.merged[k] = 1;
    } else {
      const { created } = await shipToRemote(remote, batch, retry);
      aggregate = { rows: outbox.rows, batch: batch.key, via: 'remote', created, ...(outbox.collisions ? { collisions: outbox.collisions } : {}) };
    }
    checkpoint('push:batch-shipped');
    manifest.merged[batch.key] = 1;
    await saveManifest(ctx.stateDir, manifest);
    await outbox.commit();
  }
  // A no-op push writes nothing at all, the manifest included.
  if (fileEntries.length || scan.touched.length) await saveManifest(ctx.stateDir, manifest);

  const ms = Math.round(performance.now() - t0);
  ctx.report({
    files: up.uploaded,
    bytes: up.bytes,
    alreadyThere: up.alreadyThere,
    unchanged: scan.unchanged,
    refused: [...scan.refused, ...aggRefused, ...up.refused],
    conflicts: up.conflicts,
    blocked: scan.blocked,
    incoming: scan.blocked.map((b) => `${b}${INCOMING_SUFFIX}`),
    failed: up.failed,
    notAttempted: up.notAttempted,
    aggregate,
    ...skipped,
    ms: { scan: Math.round(tScan - t0), total: ms },
    ...(requests0 !== undefined ? { requests: remote.requests! - requests0 } : {}),
  });
  if (up.failed.length) {
    const first = up.failed.slice(0, 5).map((f) => `  ${f.path} -> ${f.key}: ${f.message}`).join('\n');
    const rest = up.notAttempted ? `, ${up.notAttempted} more not attempted` : '';
    throw new SnappyError(`push to ${remote.url} failed for ${up.failed.length} of ${fileEntries.length} objects${rest} (the ${up.uploaded} sent are recorded; run push again to finish):\n${first}`, {
      code: ErrorCode.Remote,
      details: { failed: up.failed },
    });
  }
  const aggLine = 'rows' in aggregate ? `, aggregate ${aggregate.rows} rows` : '';
  const held = scan.blocked.length ? `, ${scan.blocked.length} not pushed: unresolved .incoming (${scan.blocked.map((b) => `${b}${INCOMING_SUFFIX}`).join(', ')})` : '';
  ctx.log.info(`pushed ${up.uploaded} ${up.uploaded === 1 ? 'file' : 'files'} (${formatBytes(up.bytes)}) to ${remote.url}, ${scan.unchanged} unchanged${held}${aggLine} in ${ms} ms`);
}
