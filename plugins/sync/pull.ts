import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { RunContext } from '../../core/context.ts';
import type { BlobInfo, BlobStore, RemoteStore } from '../../core/ports.ts';
import type { AggregateService, RunIdCollisions } from '../../core/services.ts';
import { revIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { isSkillName } from '../../domain/names.ts';
import { State } from '../../domain/state-layout.ts';
import { learnFates } from './fates.ts';
import { Refusal, StateFiles } from './local.ts';
import { contentHash, loadManifest, saveManifest, type Manifest } from './manifest.ts';
import { sharedVersions } from './page-versions.ts';
import type { SyncOptions } from './options.ts';
import { aggregateBatchTenant, INCOMING_SUFFIX, pullTarget, type SyncFilter, type SyncKind } from './paths.ts';
import { formatBytes, Progress } from './progress.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** What pull needs beyond the task context. */
export interface PullDeps {
  options: SyncOptions;
  filter: SyncFilter;
  aggregate?: AggregateService | undefined;
}

interface PullCounts {
  files: number;
  bytes: number;
  unchanged: number;
  /** Local files kept over a remote version (each once), and the `.incoming` files written beside them. */
  conflicts: string[];
  incoming: string[];
  /** `.incoming` files removed because the file now holds exactly their bytes. */
  cleared: string[];
  adopted: string[];
  removed: string[];
  refused: { path: string; reason: string }[];
}

/** A pulled page with no sync record here that differs from the local one: settled once the staged pages are in. */
interface Unsettled {
  rel: string;
  info: BlobInfo;
  bytes: Uint8Array;
}

/**
 * `snappy run pull`: list the shared prefixes once each, fetch only objects whose etag differs
 * from the one last seen, write them without ever overwriting a local edit (an edited file
 * gets the remote's version beside it as `<file>.incoming`), mirror the canonical pages into
 * `canonical/`, and merge new aggregate batches.
 */
export async function runPull(ctx: RunContext, deps: PullDeps): Promise<void> {
  const t0 = performance.now();
  const remote = await ctx.remote();
  const requests0 = remote.requests;
  const manifest = await loadManifest(ctx.stateDir, remote.url);
  const files = await new StateFiles(ctx.stateDir, deps.filter).init();
  const who = { machine: ctx.identity.machine, ...(ctx.identity.tenant ? { tenant: ctx.identity.tenant } : {}) };
  const retry: RetryPolicy = { retries: deps.options.retries, baseMs: deps.options.retryBaseMs };
  const dryRun = ctx.flags.dryRun;

  const prefixes = [...(who.tenant ? [Remote.tenantSkillsPrefix(who.tenant), Remote.tenantFilesPrefix(who.tenant)] : []), Remote.briefsPrefix, Remote.stagingPrefix, Remote.canonicalPrefix];
  const wanted: { info: BlobInfo; rel: string; kind: SyncKind }[] = [];
  /** Canonical folders (local, `canonical/<skill>/`) listed whole this time: what is not in them is gone. */
  const wholeCanonical = new Set<string>();
  const canonicalListed = new Set<string>();
  const counts: PullCounts = { files: 0, bytes: 0, unchanged: 0, conflicts: [], incoming: [], cleared: [], adopted: [], removed: [], refused: [] };
  const consider = (info: BlobInfo) => {
    const t = pullTarget(info.key, who);
    if (!t) return;
    // canonical/ is pull-only and outside the allow list; the deny lists still apply.
    if (t.kind === 'canonical' ? deps.filter.denies(t.rel) : !deps.filter.allows(t.rel)) return;
    if (t.kind === 'canonical') canonicalListed.add(t.rel);
    const rec = manifest.files[t.rel];
    // A record without a hash is a version shown as `.incoming` and never synced: look again.
    if (rec && rec.hash && rec.key === info.key && info.etag && rec.etag === info.etag) {
      counts.unchanged++;
      return;
    }
    wanted.push({ info, rel: t.rel, kind: t.kind });
  };
  const feed = await changedObjects(remote, manifest, prefixes, retry);
  for (const info of feed.objects) consider(info);
  for (const f of feed.folders) {
    const parts = f.slice(Remote.canonicalPrefix.length).split('/');
    if (f.startsWith(Remote.canonicalPrefix) && isSkillName(parts[0])) wholeCanonical.add(`canonical/${parts[0]}/`);
  }
  if (feed.all) wholeCanonical.add('canonical/');
  // Pages first, canonical after: a promotion may then adopt over the freshly pulled page.
  wanted.sort((a, b) => Number(a.kind === 'canonical') - Number(b.kind === 'canonical'));

  if (dryRun) {
    for (const w of wanted) ctx.log.info(`would pull ${w.info.key} -> ${w.rel}`);
    ctx.report({ dryRun: true, plan: wanted.map((w) => ({ key: w.info.key, path: w.rel, kind: w.kind })), unchanged: counts.unchanged });
    return;
  }

  const progress = Progress.for('pull', wanted.length, ctx.flags, wanted.reduce((n, w) => n + (w.info.size || 0), 0));
  // Loaded only for a pull with something to fetch: most have nothing.
  const queue = wanted.length ? new (await import('p-queue')).default({ concurrency: deps.options.concurrency }) : undefined;
  const failed: { key: string; message: string }[] = [];
  const changedCanonical: { rel: string; bytes: Uint8Array }[] = [];
  const nonCanonical = wanted.filter((w) => w.kind !== 'canonical');
  const canonical = wanted.filter((w) => w.kind === 'canonical');
  let notFetched = 0;
  const unsettled: Unsettled[] = [];
  const shared = new Map<string, Promise<Set<string>>>();
  const versionsOf = (skill: string) => {
    let v = shared.get(skill);
    if (!v) shared.set(skill, (v = sharedVersions(ctx.stateDir, skill, remote, who.tenant, retry)));
    return v;
  };
  for (const group of [nonCanonical, canonical]) {
    for (const w of group) {
      queue?.add(async () => {
        // Stopped (Ctrl-C): fetches in flight finish; the rest wait for the next pull, which lists them again.
        if (ctx.signal?.aborted) {
          notFetched++;
          return;
        }
        try {
          const bytes = await withRetry(() => remote.get(w.info.key), retry);
          if (!bytes) return; // deleted since the listing
          if (w.kind === 'staged') {
            // A staged page must hash to its rev id: anything else is not the rev, whoever put it there.
            const [, skill, rev, ...name] = w.rel.split('/');
            if (name.join('/') === `${skill}.md` && (await revIdOf(bytes)) !== rev) throw new Refusal(w.rel, `does not hash to its rev id ${rev}: not the staged rev (skipped)`);
          }
          const written = await applyIncoming(files, manifest, w.rel, w.info, bytes, counts, w.kind === 'page' ? unsettled : undefined);
          if (written && w.kind === 'canonical') changedCanonical.push({ rel: w.rel, bytes });
        } catch (err) {
          if (err instanceof Refusal) counts.refused.push({ path: err.rel, reason: err.reason });
          else failed.push({ key: w.info.key, message: (err as Error).message });
        } finally {
          progress.tick(w.info.size);
        }
      });
    }
    await queue?.onIdle();
    if (group === nonCanonical) {
      for (const u of unsettled.splice(0)) {
        try {
          await settlePage(files, manifest, u, counts, versionsOf);
        } catch (err) {
          if (err instanceof Refusal) counts.refused.push({ path: err.rel, reason: err.reason });
          else failed.push({ key: u.info.key, message: (err as Error).message });
        }
      }
    }
  }
  progress.end();

  // Canonical mirrors the promoted folder exactly: files no longer there go (unless edited here).
  for (const [rel, rec] of Object.entries(manifest.files)) {
    if (!rel.startsWith('canonical/') || canonicalListed.has(rel) || failed.length) continue;
    if (![...wholeCanonical].some((f) => rel.startsWith(f))) continue;
    const local = await files.readLocal(rel);
    if (!local || (local.bytes && contentHash(local.bytes) === rec.hash)) {
      await files.remove(rel);
      delete manifest.files[rel];
      counts.removed.push(rel);
    }
  }
  if (deps.options.adoptCanonical === 'when-unchanged') await adoptCanonical(files, manifest, changedCanonical, counts, versionsOf);

  if (ctx.signal?.aborted) {
    // What was written (and adopted) is recorded; the aggregate merge waits for the next pull.
    await saveManifest(ctx.stateDir, manifest);
    for (const c of counts.conflicts) ctx.log.warn(`kept your edit of ${c}; the remote's version is beside it as ${c}${INCOMING_SUFFIX}`);
    ctx.report({ files: counts.files, bytes: counts.bytes, unchanged: counts.unchanged, conflicts: counts.conflicts, incoming: counts.incoming, adopted: counts.adopted, failed, interrupted: true });
    throw new SnappyError(`pull stopped: ${counts.files} files fetched and saved, ${notFetched} of the ${wanted.length} changed not yet`, {
      code: ErrorCode.Interrupted,
      details: { fetched: counts.files, notFetched, total: wanted.length },
    });
  }
  const aggregate = deps.aggregate && deps.filter.allows(State.aggregate) ? await mergeBatches(remote, manifest, deps.aggregate, retry, ctx) : { skipped: deps.aggregate ? 'denied by sync config' : 'aggregate plugin not configured' };
  // The feed cursor moves only once everything it pointed at is saved.
  if (feed.cursor !== undefined && !failed.length) (manifest.cursors ??= {}).feed = feed.cursor;
  await saveManifest(ctx.stateDir, manifest);
  const news = counts.files > 0 || counts.removed.length > 0 || ('added' in aggregate && Number(aggregate.added) > 0);
  const decided = failed.length ? [] : await learnFates(ctx.stateDir, remote, retry, ctx.log, { news, now: ctx.clock.now() });

  for (const r of counts.refused) ctx.log.warn(`not pulled: ${r.path} ${r.reason}`);
  for (const c of counts.conflicts) ctx.log.warn(`kept your edit of ${c}; the remote's version is beside it as ${c}${INCOMING_SUFFIX} (merge it into ${c}, then delete the .incoming file)`);
  for (const a of counts.adopted) ctx.log.info(`updated ${a} to the remote's version: it held no edit made on this machine`);
  for (const c of counts.cleared) ctx.log.info(`removed ${c}: ${c.slice(0, -INCOMING_SUFFIX.length)} now holds exactly its bytes`);
  const ms = Math.round(performance.now() - t0);
  ctx.report({ files: counts.files, bytes: counts.bytes, unchanged: counts.unchanged, conflicts: counts.conflicts, incoming: counts.incoming, cleared: counts.cleared, adopted: counts.adopted, removed: counts.removed, refused: counts.refused, failed, aggregate, decided, ms: { total: ms }, ...(requests0 !== undefined ? { requests: remote.requests! - requests0 } : {}) });
  if (failed.length) {
    const first = failed.slice(0, 5).map((f) => `  ${f.key}: ${f.message}`).join('\n');
    throw new SnappyError(`pull from ${remote.url} failed for ${failed.length} objects (the rest are saved; run pull again to finish):\n${first}`, { code: ErrorCode.Remote, details: { failed } });
  }
  for (const d of decided) {
    if (d.state === 'revived') ctx.log.info(`staged rev ${d.rev} was revived by an operator; it waits for evaluation here again`);
    else ctx.log.info(`staged rev ${d.rev} was ${d.state}${d.ts ? ` (${d.ts})` : ''}${d.state === 'promoted' ? '' : `${d.reason ? `: ${d.reason}` : ''}`}; it no longer waits for evaluation here`);
  }
  const merged = 'batches' in aggregate ? `, merged ${plural(Number(aggregate.batches), 'aggregate batch', 'aggregate batches')} (+${plural(Number(aggregate.added), 'row')})` : '';
  const incoming = counts.incoming.length ? `, wrote ${counts.incoming.length} .incoming (${counts.incoming.join(', ')})` : '';
  ctx.log.info(`pulled ${plural(counts.files, 'file')} (${formatBytes(counts.bytes)}) from ${remote.url}, ${counts.unchanged} unchanged${incoming}${merged} in ${ms} ms`);
}

/**
 * What may have changed since the last pull. A remote with a change feed (the Worker) is asked
 * for the changes since the saved cursor, paging until it has no more; a plain bucket, or a
 * first pull, is listed whole (`all`). `folders` are folders the feed says were replaced whole.
 */
async function changedObjects(remote: RemoteStore, manifest: Manifest, prefixes: readonly string[], retry: RetryPolicy): Promise<{ objects: BlobInfo[]; folders: string[]; all: boolean; cursor?: string }> {
  if (remote.changesSince) {
    let cursor = manifest.cursors?.feed ?? '';
    const objects: BlobInfo[] = [];
    const folders: string[] = [];
    for (;;) {
      const c = await withRetry(() => remote.changesSince!(cursor), retry);
      if (c.reset) return { objects: await listEach(remote, prefixes, retry), folders: [], all: true, cursor: c.cursor };
      objects.push(...c.objects);
      for (const f of c.folders) {
        folders.push(f.folder);
        objects.push(...f.objects);
      }
      cursor = c.cursor;
      if (!c.more) return { objects, folders, all: false, cursor };
    }
  }
  return { objects: await listEach(remote, prefixes, retry), folders: [], all: true };
}

/** Every object under each of `prefixes`, in that order; the listings run side by side (one round trip, not five). */
async function listEach(remote: BlobStore, prefixes: readonly string[], retry: RetryPolicy): Promise<BlobInfo[]> {
  return (await Promise.all(prefixes.map((prefix) => listAll(remote, prefix, retry)))).flat();
}

async function listAll(remote: BlobStore, prefix: string, retry: RetryPolicy): Promise<BlobInfo[]> {
  return withRetry(async () => {
    const out: BlobInfo[] = [];
    for await (const o of remote.list(prefix)) out.push(o);
    return out;
  }, retry);
}

/**
 * Writes one pulled file by the no-silent-overwrite rule: write when absent, identical, or
 * unchanged here since the last sync; otherwise keep the local file and put the remote's
 * version beside it. A page this machine holds no sync record of goes to `unsettled` instead,
 * to be settled by `settlePage` once the staged pages are in. Returns true when the local file
 * now holds the remote's bytes.
 */
async function applyIncoming(files: StateFiles, manifest: Manifest, rel: string, info: BlobInfo, bytes: Uint8Array, counts: PullCounts, unsettled?: Unsettled[]): Promise<boolean> {
  const hash = contentHash(bytes);
  const rec = manifest.files[rel];
  const local = await files.readLocal(rel);
  const localHash = local?.bytes ? contentHash(local.bytes) : undefined;
  const origin = rec?.origin === 'push' && rel.startsWith('staging/') ? 'push' : 'pull';
  if (!local || localHash === hash || (!local.link && rec && localHash === rec.hash)) {
    const st = localHash === hash ? await files.statLocal(rel) : await files.write(rel, bytes);
    if (localHash !== hash) {
      counts.files++;
      counts.bytes += bytes.length;
    } else counts.unchanged++;
    manifest.files[rel] = { size: st?.size ?? bytes.length, mtimeMs: st?.mtimeMs ?? 0, hash, key: info.key, ...(info.etag ? { etag: info.etag } : {}), origin };
    await clearIncoming(files, rel, bytes, counts);
    return true;
  }
  if (unsettled && !local.link && !rec?.hash) {
    unsettled.push({ rel, info, bytes });
    return false;
  }
  await keepLocal(files, manifest, rel, info, bytes, counts);
  return false;
}

/**
 * A pulled page that differs from the local one, which this machine has no sync record of (it
 * just joined the tenant, or never synced the page): the local page is taken for an edit only
 * if it is none of the versions nobody edited here (`sharedVersions`: the tenant page's
 * history, the staged and canonical pages held here, the example page snappy ships). Else the
 * remote's page is adopted.
 */
async function settlePage(files: StateFiles, manifest: Manifest, u: Unsettled, counts: PullCounts, versionsOf: (skill: string) => Promise<Set<string>>): Promise<void> {
  const skill = u.rel.slice(State.skillsDir.length, -'.md'.length);
  const local = await files.readLocal(u.rel);
  const shared = await versionsOf(skill);
  if (local?.bytes && !local.link && shared.has(contentHash(local.bytes))) {
    const st = await files.write(u.rel, u.bytes);
    counts.files++;
    counts.bytes += u.bytes.length;
    counts.adopted.push(u.rel);
    manifest.files[u.rel] = { size: st.size, mtimeMs: st.mtimeMs, hash: contentHash(u.bytes), key: u.info.key, ...(u.info.etag ? { etag: u.info.etag } : {}), origin: 'pull' };
    await clearIncoming(files, u.rel, u.bytes, counts, async () => shared);
    return;
  }
  await keepLocal(files, manifest, u.rel, u.info, u.bytes, counts);
}

/** Keeps the local file and writes the remote's version beside it as `.incoming` (unless it is there already). */
async function keepLocal(files: StateFiles, manifest: Manifest, rel: string, info: BlobInfo, bytes: Uint8Array, counts: PullCounts): Promise<void> {
  const rec = manifest.files[rel];
  if (await writeIncoming(files, rel, bytes, counts)) noteConflict(counts, rel);
  // Remember the remote version we have shown: once the .incoming file is resolved and removed,
  // push writes over exactly that version and no other.
  if (rec) rec.etag = info.etag ?? rec.etag;
  else manifest.files[rel] = { size: -1, mtimeMs: -1, hash: '', key: info.key, ...(info.etag ? { etag: info.etag } : {}), origin: 'push' };
}

/** Writes `<rel>.incoming` unless it already holds these bytes; true when it wrote. */
async function writeIncoming(files: StateFiles, rel: string, bytes: Uint8Array, counts: PullCounts): Promise<boolean> {
  const have = await files.readLocal(rel + INCOMING_SUFFIX);
  if (have?.bytes && contentHash(have.bytes) === contentHash(bytes)) return false;
  await files.write(rel + INCOMING_SUFFIX, bytes);
  noteIncoming(counts, rel, bytes);
  return true;
}

/** A `.incoming` written is a file pulled, and named in the summary. */
function noteIncoming(counts: PullCounts, rel: string, bytes: Uint8Array): void {
  if (counts.incoming.includes(rel + INCOMING_SUFFIX)) return;
  counts.incoming.push(rel + INCOMING_SUFFIX);
  counts.files++;
  counts.bytes += bytes.length;
}

function noteConflict(counts: PullCounts, rel: string): void {
  if (!counts.conflicts.includes(rel)) counts.conflicts.push(rel);
}

/**
 * A `.incoming` left beside `rel` is settled when it holds exactly the bytes `rel` now has, or
 * a version the remote page had before (in `older`): it goes, and nothing is lost with it.
 */
async function clearIncoming(files: StateFiles, rel: string, bytes: Uint8Array, counts: PullCounts, older?: () => Promise<ReadonlySet<string>>): Promise<void> {
  if (rel.endsWith(INCOMING_SUFFIX)) return;
  const have = await files.readLocal(rel + INCOMING_SUFFIX);
  if (!have?.bytes || have.link) return;
  const h = contentHash(have.bytes);
  if (h !== contentHash(bytes) && !(older && (await older()).has(h))) return;
  await files.remove(rel + INCOMING_SUFFIX);
  counts.cleared.push(rel + INCOMING_SUFFIX);
}

/**
 * A newly promoted canonical page replaces `skills/<skill>.md` when that page is unchanged
 * since the last sync (or absent from a machine that had synced it), or, with no sync record,
 * when it is a version nobody edited here (see `settlePage`); an edited page is kept and the
 * canonical one is put beside it as `.incoming`.
 */
async function adoptCanonical(files: StateFiles, manifest: Manifest, changed: { rel: string; bytes: Uint8Array }[], counts: PullCounts, versionsOf: (skill: string) => Promise<Set<string>>): Promise<void> {
  for (const c of changed) {
    const parts = c.rel.split('/');
    if (parts.length !== 3 || parts[2] !== `${parts[1]}.md`) continue;
    const pageRel = State.skill(parts[1]!);
    const rec = manifest.files[pageRel];
    const local = await files.readLocal(pageRel);
    if (!local) continue; // this machine does not use the skill
    const localHash = local.bytes ? contentHash(local.bytes) : undefined;
    if (localHash === contentHash(c.bytes)) continue;
    const unedited = !local.link && localHash !== undefined && (rec?.hash ? localHash === rec.hash : (await versionsOf(parts[1]!)).has(localHash));
    if (unedited) {
      // The manifest keeps the old hash, so the next push sends the adopted page to the tenant's copy.
      await files.write(pageRel, c.bytes);
      counts.adopted.push(pageRel);
      await clearIncoming(files, pageRel, c.bytes, counts, () => versionsOf(parts[1]!));
    } else {
      if (await writeIncoming(files, pageRel, c.bytes, counts)) noteConflict(counts, pageRel);
    }
  }
}

/** `1 file`, `3 files`. */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

async function mergeBatches(remote: RemoteStore, manifest: Manifest, svc: AggregateService, retry: RetryPolicy, ctx: RunContext): Promise<Record<string, unknown>> {
  const stateDir = ctx.stateDir;
  let batches = 0;
  let added = 0;
  let invalid = 0;
  let collisions: RunIdCollisions | undefined;
  const met = (c: RunIdCollisions | undefined) => {
    if (c) collisions = { count: (collisions?.count ?? 0) + c.count, example: collisions?.example ?? c.example };
  };
  if (remote.aggregateSince) {
    // The Worker sends the rows stored since the cursor; a batch may come twice (the cursor
    // trails), which the merge's dedupe by (tenant, run_id) absorbs.
    let cursor = manifest.cursors?.aggregate ?? '';
    let segments = 0;
    let retentionDays: number | undefined;
    let removedTenants: string[] = [];
    for (;;) {
      const page = await withRetry(() => remote.aggregateSince!(cursor), retry);
      if (page.ndjson) {
        const r = await svc.merge(ctx, page.ndjson, `${remote.url} /v1/aggregate`);
        added += r.added;
        invalid += r.invalid.length;
        met(r.collisions);
      }
      batches += page.batches;
      segments += page.segments ?? 0;
      if (page.retentionDays !== undefined) retentionDays = page.retentionDays;
      if (page.removedTenants) removedTenants = page.removedTenants;
      cursor = page.cursor;
      (manifest.cursors ??= {}).aggregate = cursor;
      await saveManifest(stateDir, manifest);
      if (!page.more) break;
    }
    // The local union keeps what the Worker keeps: rows past its window go (once a day), and
    // the rows of tenants it removed (once each).
    const pruned = svc.prune && (retentionDays !== undefined || removedTenants.length) ? await svc.prune(ctx, { retentionDays: retentionDays ?? 0, removedTenants }) : null;
    return { batches, segments, added, invalid, ...(collisions ? { collisions } : {}), ...(retentionDays !== undefined ? { retentionDays } : {}), ...(pruned ? { pruned: pruned.removed } : {}) };
  }
  for (const info of await listAll(remote, Remote.aggregatePrefix, retry)) {
    if (manifest.merged[info.key] || !aggregateBatchTenant(info.key)) continue;
    const bytes = await withRetry(() => remote.get(info.key), retry);
    if (!bytes) continue;
    const r = await svc.merge(ctx, new TextDecoder().decode(bytes), info.key);
    manifest.merged[info.key] = 1;
    batches++;
    added += r.added;
    invalid += r.invalid.length;
    met(r.collisions);
    if (batches % 50 === 0) await saveManifest(stateDir, manifest);
  }
  return { batches, added, invalid, ...(collisions ? { collisions } : {}) };
}

