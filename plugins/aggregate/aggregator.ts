import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RunContext } from '../../core/context.ts';
import type { EvalEvent, IngestBatch } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { State } from '../../domain/state-layout.ts';
import { CHUNK_BYTES, nextLineStart, parseEvalChunk, readIngestCursor } from '../../adapters/eval-log.ts';
import { HmacPool } from './hmac-pool.ts';
import { maxLineBytes, Projector } from './project.ts';
import { AggStore, rowKey } from './store.ts';

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
    const keys = events.length > 0 && events[0]!.offset < dedupeTo ? await store.keySet() : undefined;
    const known = keys ?? store.loadedKeys();
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
        if (keys && ev.offset < dedupeTo && known.has(k)) {
          this.counts.duplicates++;
          continue;
        }
        known.add(k);
        pos += out.write(p.line(ev, rid) + '\n', pos, 'utf8');
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
  }
}
