import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RunContext } from '../../core/context.ts';
import type { EvalEvent, IngestBatch } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import type { RunIdCollisions } from '../../core/services.ts';
import type { AggRow } from '../../domain/agg-row.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { State } from '../../domain/state-layout.ts';
import { CHUNK_BYTES, nextLineStart, parseEvalChunk, readIngestCursor } from '../../adapters/eval-log.ts';
import { HmacPool } from './hmac-pool.ts';
import { maxLineBytes, Projector } from './project.ts';
import { AggStore, fingerprint, forEachLine, rowKey } from './store.ts';

/** What the aggregate did in this process. */
export interface AggCounts {
  /** This machine's rows appended to the aggregate. */
  aggregated: number;
  /** Rows read back from the eval log because an earlier ingest ran without a key (or before this plugin). */
  caughtUp: number;
  /** Rows already in the aggregate (a replaced log read again). */
  duplicates: number;
  /** Rows ingested while SNAPPY_MASTER_KEY was unset: left for a run with a key. */
  skippedNoKey: number;
}

/** Batches smaller than this are hashed on the main thread (a worker costs ~30 ms to start). */
const POOL_MIN_ROWS = 4096;

/**
 * This machine's side of the aggregate: turns ingested eval rows into aggregate rows exactly
 * once. Its cursor (generation, evalOffset) lives in the commit record beside the file's
 * committed size, so a row is appended and marked done in one atomic step; see store.ts.
 */
export class Aggregator {
  readonly counts: AggCounts = { aggregated: 0, caughtUp: 0, duplicates: 0, skippedNoKey: 0 };
  /** Run ids of this tenant found reused while this process aggregated eval rows, with the first example. */
  collisions: RunIdCollisions | undefined;
  /** Rows `afterEval` collected for the pass under way, and its run: aggregated at its `afterIngest`. */
  private pending: { run: RunContext; rows: EvalEvent[] } | undefined;
  private stores = new Map<string, Promise<AggStore>>();
  private projectors = new Map<string, Projector>();
  private pools = new Map<string, HmacPool>();

  constructor(readonly log: Logger) {}

  /** The master key of a run: rows are aggregated under it, and only with it. */
  keyOf(run: RunContext): string | undefined {
    return run.identity.masterKey || undefined;
  }

  /** The afterEval tap: one row of the pass under way. */
  collect(run: RunContext, ev: EvalEvent): void {
    const p = this.pending;
    if (p && p.run === run) p.rows.push(ev);
    else this.pending = { run, rows: [ev] };
  }

  async store(stateDir: string): Promise<AggStore> {
    let s = this.stores.get(stateDir);
    if (s && (await s.catch(() => undefined))?.broken) s = undefined;
    if (!s) {
      s = AggStore.open(stateDir, (m) => this.log.warn(m));
      s.catch(() => this.stores.delete(stateDir));
      this.stores.set(stateDir, s);
    }
    return s;
  }

  private pool(key: string): HmacPool {
    let p = this.pools.get(key);
    if (!p) this.pools.set(key, (p = new HmacPool(key)));
    return p;
  }

  private async projector(key: string): Promise<Projector> {
    let p = this.projectors.get(key);
    if (!p) this.projectors.set(key, (p = new Projector(key, await tenantIdOf(key))));
    return p;
  }

  /** The afterIngest tap: aggregates the rows of one ingest pass (after catching up on anything skipped). */
  async onBatch(run: RunContext, batch: IngestBatch): Promise<void> {
    const collected = this.pending?.run === run ? this.pending.rows : [];
    this.pending = undefined;
    const key = this.keyOf(run);
    // No key: counted and reported, not warned about here. The host says once, in one line,
    // everything a run without a key skipped (the CLI also names the pages it did not push).
    if (!key) {
      this.counts.skippedNoKey += collected.length;
      return;
    }
    const store = await this.store(run.stateDir);
    const c = store.commit;
    const start = batch.startOffset;
    if (c.generation === batch.generation && c.evalOffset >= batch.endOffset) return; // replayed after a crash
    if (c.generation !== batch.generation || c.evalOffset < start) await this.catchUp(store, key, batch.generation, start);
    const from = store.commit.evalOffset;
    const events = collected[0] && collected[0].offset < from ? collected.filter((e) => e.offset >= from) : collected;
    await this.append(store, key, batch.generation, events, batch.endOffset);
  }

  /** Makes the aggregate of a state dir durable, if this process wrote to it. */
  async flush(stateDir: string): Promise<void> {
    const s = this.stores.get(stateDir);
    const store = s && (await s.catch(() => undefined));
    if (store && !store.broken) await store.flush();
  }

  /**
   * Brings the aggregate up to the ingest cursor: needed when rows were ingested without a
   * key, before this plugin was configured, or after the aggregate file was rebuilt.
   */
  async catchUpToIngest(run: RunContext): Promise<void> {
    const key = this.keyOf(run);
    if (!key) return;
    const cursor = await readIngestCursor(run.stateDir);
    if (!cursor) return;
    const store = await this.store(run.stateDir);
    const c = store.commit;
    if (c.generation === cursor.generation && c.evalOffset >= cursor.offset) return;
    await this.catchUp(store, key, cursor.generation, cursor.offset);
  }

  /**
   * Reads the eval log from the aggregate's own cursor up to `target` (same generation), or
   * from the start when the generation changed (a replaced log, a rebuilt aggregate): then
   * every row already present is recognised by (tenant, run_id) and skipped.
   */
  private async catchUp(store: AggStore, key: string, generation: string, target: number): Promise<void> {
    const c = store.commit;
    let from = c.evalOffset;
    if (c.generation !== generation) {
      from = 0;
      const logSize = await fs.stat(path.join(store.stateDir, State.evalLog)).then((s) => s.size, () => 0);
      // Rows up to the log's present end may be in the aggregate already; later ones are new.
      const dedupeTo = c.generation === null && c.size === 0 ? 0 : logSize;
      await store.append('', (n) => Object.assign(n, { generation, evalOffset: 0, dedupeTo }));
    }
    if (from >= target) return;
    const fh = await fs.open(path.join(store.stateDir, State.evalLog), 'r');
    try {
      let buf = Buffer.alloc(Math.min(CHUNK_BYTES, target - from));
      while (from < target) {
        const want = Math.min(CHUNK_BYTES, target - from);
        if (buf.length < want) buf = Buffer.alloc(want);
        const { bytesRead } = await fh.read(buf, 0, want, from);
        const lastNl = buf.subarray(0, bytesRead).lastIndexOf(10);
        if (lastNl < 0) {
          // A line longer than a chunk (the ingest skipped it as malformed): skip it too.
          const next = await nextLineStart(fh, from + bytesRead, target);
          const more = next < 0 ? target : next;
          await store.append('', (n) => Object.assign(n, { evalOffset: more }));
          from = more;
          continue;
        }
        const { events } = parseEvalChunk(buf, lastNl + 1, from, 0, generation);
        const end = from + lastNl + 1;
        this.counts.caughtUp += events.length;
        await this.append(store, key, generation, events, end);
        from = end;
      }
    } finally {
      await fh.close();
    }
  }

  /** Appends the rows of `events` in one write and commits the cursor `endOffset` with them. */
  private async append(store: AggStore, key: string, generation: string, events: readonly EvalEvent[], endOffset: number): Promise<void> {
    const p = await this.projector(key);
    const dedupeTo = store.commit.generation === generation ? store.commit.dedupeTo : 0;
    const keys = events.length > 0 && events[0]!.offset < dedupeTo ? await store.keySet(p.tenant) : undefined;
    const known = keys ?? store.loadedKeys();
    // Loaded (by a merge of pulled batches, or for the dedupe above): a new row whose run id is
    // already there is a raw run id reused, and is reported.
    const ours = known ? store.rowsOf(p.tenant) : undefined;
    let collided = 0;
    let first: { ev: EvalEvent; rid: string } | undefined;
    let out = Buffer.allocUnsafe(Math.max(4096, events.length * 200));
    let pos = 0;
    let rows = 0;
    // A large batch without dedupe: the HMACs of its last rows are computed on a second
    // thread meanwhile (see HmacPool); the split keeps both threads about equally busy.
    const split = !known && events.length >= POOL_MIN_ROWS ? Math.floor(events.length * 0.4) : events.length;
    const ahead = split < events.length ? this.pool(key).hex16(events.slice(split).map((e) => e.runId)).catch(() => undefined) : undefined;
    let hex: Uint8Array | undefined;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const need = maxLineBytes(ev);
      if (pos + need > out.length) {
        const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + need));
        out.copy(bigger, 0, 0, pos);
        out = bigger;
      }
      if (known) {
        const rid = p.runId(ev.runId);
        const k = rowKey(p.tenant, rid);
        const line = p.line(ev, rid);
        const replayable = !!keys && ev.offset < dedupeTo;
        if (known.has(k)) {
          // The same row again (a log read anew) is expected where rows may be replayed; any
          // other row with this run id is a raw run id reused.
          const had = ours?.get(rid);
          if (had !== undefined ? had !== fingerprint(line) : !replayable) {
            collided++;
            first ??= { ev, rid };
          }
          if (replayable) {
            this.counts.duplicates++;
            continue;
          }
        } else ours?.set(rid, fingerprint(line));
        known.add(k);
        pos += out.write(line + '\n', pos, 'utf8');
      } else if (i < split) pos = p.write(ev, out, pos);
      else {
        if (i === split) hex = await ahead; // undefined when the worker failed: hash here instead
        pos = p.write(ev, out, pos, hex, (i - split) * 16);
      }
      rows++;
    }
    await store.append(out.subarray(0, pos), (n, range) => {
      n.generation = generation;
      n.evalOffset = endOffset;
      if (range[1] > range[0]) {
        const last = n.own[n.own.length - 1];
        if (last && last[1] === range[0]) n.own[n.own.length - 1] = [last[0], range[1]];
        else n.own.push(range);
      }
    });
    this.counts.aggregated += rows;
    if (first) {
      const ev = first.ev;
      const kept = await store.findRow(p.tenant, first.rid);
      const skill = ev.rev === undefined ? ev.skill : `${ev.skill}:${ev.rev}`;
      const c: RunIdCollisions = { count: collided, example: { run_id: first.rid, raw_run_id: ev.runId, ...(kept ? { kept: { skill: kept.skill, ts: kept.ts, score: kept.score } } : {}), dropped: { skill, ts: p.iso(ev.ts), score: ev.score, source: `${State.evalLog}:${ev.line}` } } };
      this.reportCollisions(c, `aggregating ${State.evalLog}`);
      this.collisions = { count: (this.collisions?.count ?? 0) + c.count, example: this.collisions?.example ?? c.example };
    }
  }

  /**
   * One example of `count` reused run ids met in a merge, told in full: the row that counts
   * (found in the aggregate) and the raw run id (found in this machine's own log, if there).
   */
  async describeCollision(run: RunContext, store: AggStore, count: number, row: AggRow, source: string): Promise<RunIdCollisions> {
    const kept = await store.findRow(row.tenant, row.run_id);
    const key = this.keyOf(run);
    const raw = key ? await this.rawRunId(run.stateDir, key, row.run_id) : undefined;
    return {
      count,
      example: { run_id: row.run_id, ...(raw !== undefined ? { raw_run_id: raw } : {}), ...(kept ? { kept: { skill: kept.skill, ts: kept.ts, score: kept.score } } : {}), dropped: { skill: row.skill, ts: row.ts, score: row.score, source } },
    };
  }

  /** Says it, once per meeting, on stderr (the --json report carries it where it was met). */
  reportCollisions(c: RunIdCollisions, where: string): void {
    const e = c.example;
    const id = e.raw_run_id !== undefined ? `run id ${JSON.stringify(e.raw_run_id)} (aggregate run_id ${e.run_id})` : `aggregate run_id ${e.run_id}`;
    const kept = e.kept ? `${e.kept.skill} ${e.kept.score} at ${e.kept.ts} counts` : 'the first row counts';
    this.log.warn(
      `${where}: ${c.count} ${c.count === 1 ? 'row of this tenant reuses a run id another run already has, and does' : 'rows of this tenant reuse run ids other runs already have, and do'} not count (e.g. ${id}: ${kept}; ${e.dropped.skill} ${e.dropped.score} at ${e.dropped.ts} from ${e.dropped.source} does not). Run ids must be unique per tenant: prefix them with the machine (README, "The loop").`,
    );
  }

  /** The tenant id of a master key (the aggregate's `tenant` field). */
  async tenantOf(key: string): Promise<string> {
    return (await this.projector(key)).tenant;
  }

  /** The raw run id in this machine's log whose HMAC is `runId`, or undefined: one pass, for a message. */
  private async rawRunId(stateDir: string, key: string, runId: string): Promise<string | undefined> {
    const p = await this.projector(key);
    const file = path.join(stateDir, State.evalLog);
    const size = await fs.stat(file).then((st) => st.size, () => 0);
    let found: string | undefined;
    await forEachLine(file, size, (text, s, e) => {
      if (found !== undefined) return;
      try {
        const raw = (JSON.parse(text.slice(s, e)) as { run_id?: unknown }).run_id;
        if (typeof raw === 'string' && raw && p.runId(raw) === runId) found = raw;
      } catch {
        // a malformed line has no run id to find
      }
    });
    return found;
  }
}
