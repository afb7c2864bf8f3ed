import { closeSync, constants, ftruncateSync, mkdirSync, openSync, promises as fs, writeSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../adapters/fs.ts';
import { checkpoint } from '../../core/checkpoint.ts';
import { writeJsonRenamed } from '../../adapters/fs.ts';
import { checkAggLine, tenantOfAggLine, type AggRow } from '../../domain/agg-row.ts';
import { State } from '../../domain/state-layout.ts';
import { ErrorCode, SnappyError } from '../../core/errors.ts';

/**
 * The commit record `.snappy/aggregate.json`: the truth about `log/evals.aggregate.ndjson`.
 * Bytes of the file beyond `size` were written by a run that died before committing; the
 * next writer cuts them off and the rows they held come again (from the replayed ingest, or
 * from the sync's next merge).
 */
export interface AggCommit {
  v: 1;
  /** Committed byte size of the aggregate file. */
  size: number;
  /** Eval-log generation and byte offset up to which this machine's rows are aggregated. */
  generation: string | null;
  evalOffset: number;
  /**
   * Rows of this generation before this offset may already be in the file (the log was
   * replaced or the aggregate rebuilt): they are checked by (tenant, run_id) before appending.
   */
  dedupeTo: number;
  /** Byte ranges [start, end) of this machine's own rows not yet shipped. */
  own: [number, number][];
  /**
   * A prune under way (`prune()`): the file `.snappy/aggregate.prune.ndjson`, complete and
   * synced, replaces the aggregate file, after which `size` and `own` become these. Set before
   * the rename and cleared after it, so a run killed anywhere in between is finished by the next open.
   */
  pending?: { size: number; own: [number, number][] };
  /** When rows were last pruned for the window (epoch ms) and the oldest `ts` then kept. */
  pruned?: { at: number; cutoff: string };
  /** Removed tenants whose rows were dropped already. */
  dropped?: string[];
}

const EMPTY: AggCommit = { v: 1, size: 0, generation: null, evalOffset: 0, dedupeTo: 0, own: [] };

/** The commit record of a state dir, read-only (for status), or undefined before the first write. */
export function readCommit(stateDir: string): Promise<AggCommit | undefined> {
  return readJsonFile<AggCommit>(path.join(stateDir, State.internal('aggregate.json'))).catch(() => undefined);
}

/** The aggregate file of one state dir, opened for writing under the state lock. */
export class AggStore {
  readonly file: string;
  readonly commitFile: string;
  commit: AggCommit = { ...EMPTY, own: [] };
  private keys: Set<string> | undefined;
  /** Whether this process changed the file or its record since it last made them durable: a no-op run need not. */
  private changed = false;
  /** One tenant's rows, run_id -> fingerprint of the row: how a reused run id is told from a row seen again. */
  private tenantRows: { tenant: string; rows: Map<string, number> } | undefined;

  private constructor(readonly stateDir: string, private readonly warn: (msg: string) => void) {
    this.file = path.join(stateDir, State.aggregate);
    this.commitFile = path.join(stateDir, State.internal('aggregate.json'));
  }

  /** Opens the store and undoes whatever an interrupted run left past the committed size. */
  static async open(stateDir: string, warn: (msg: string) => void): Promise<AggStore> {
    const s = new AggStore(stateDir, warn);
    await s.recover();
    return s;
  }

  private async recover(): Promise<void> {
    let saved = await readJsonFile<AggCommit>(this.commitFile).catch(() => {
      this.warn(`${this.commitFile} is unreadable: rebuilding this machine's rows from ${State.evalLog}`);
      return undefined;
    });
    if (saved?.v === 1 && saved.pending) saved = await this.finishPrune(saved);
    else await fs.rm(this.pruneFile, { force: true }); // a prune killed before it was recorded: the file is as it was
    const size = await fileSize(this.file);
    if (saved && saved.v === 1 && size >= saved.size) {
      this.commit = saved;
      if (size > saved.size) {
        await fs.truncate(this.file, saved.size);
        this.changed = true;
      }
      return;
    }
    // No record, or a file shorter than recorded (edited or deleted by hand): keep its
    // complete lines and rebuild this machine's rows from the eval log, deduplicated.
    const keep = await completeLinesSize(this.file, size);
    if (keep < size) await fs.truncate(this.file, keep);
    if (saved) this.warn(`${State.aggregate} is shorter than recorded (edited or removed by hand?): rebuilding this machine's rows from ${State.evalLog}`);
    this.commit = { ...EMPTY, own: [], size: keep };
    await this.save();
  }

  /** The pruned file, complete once `pending` names it; moved over the aggregate file by rename. */
  get pruneFile(): string {
    return path.join(this.stateDir, State.internal('aggregate.prune.ndjson'));
  }

  /** Ends a prune `saved.pending` records: the rename if it has not happened, then the new size and ranges. */
  private async finishPrune(saved: AggCommit): Promise<AggCommit> {
    const { pending, ...rest } = saved;
    try {
      await fs.rename(this.pruneFile, this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // renamed already
    }
    const done: AggCommit = { ...rest, size: pending!.size, own: pending!.own };
    await this.save(done, true);
    return done;
  }

  /**
   * Drops the rows whose `ts` is before `cutoff` (ISO-8601), except this machine's own rows not
   * yet shipped, which stay wherever their time. The kept rows go, in their order, to a new
   * file that replaces the aggregate file by rename, the commit record naming it first (see
   * `pending`): killed at any point, the next open ends up with the old file or the new one
   * whole, never a mix, and no row kept twice.
   */
  async prune(cutoff: string, now: number, tenants: readonly string[] = [], windowed = true): Promise<{ removed: number; kept: number }> {
    const gone = new Set(tenants);
    const own = this.commit.own;
    let inOwn = 0;
    const newOwn: [number, number][] = [];
    let outSize = 0;
    let removed = 0;
    let kept = 0;
    const out = await fs.open(this.pruneFile, 'w');
    try {
      let pending: Buffer[] = [];
      let pendingSize = 0;
      await forEachLineBytes(this.file, this.commit.size, async (line, at) => {
        while (inOwn < own.length && own[inOwn]![1] <= at) inOwn++;
        const mine = inOwn < own.length && own[inOwn]![0] <= at;
        if (!mine) {
          const text = line.toString('utf8', 0, line.length - 1);
          const ts = tsOfLine(text);
          if ((ts !== undefined && ts < cutoff) || (gone.size && gone.has(tenantOfAggLine(text) ?? ''))) {
            removed++;
            return;
          }
        }
        if (mine) {
          const last = newOwn[newOwn.length - 1];
          if (last && last[1] === outSize) last[1] += line.length;
          else newOwn.push([outSize, outSize + line.length]);
        }
        pending.push(line);
        pendingSize += line.length;
        outSize += line.length;
        kept++;
        if (pendingSize >= 1 << 20) {
          await out.write(Buffer.concat(pending));
          pending = [];
          pendingSize = 0;
        }
      });
      if (pending.length) await out.write(Buffer.concat(pending));
      if (removed) await out.sync();
    } finally {
      await out.close();
    }
    if (!removed) {
      await fs.rm(this.pruneFile, { force: true });
      await this.append('', (c) => {
        if (windowed) c.pruned = { at: now, cutoff };
        if (gone.size) c.dropped = [...new Set([...(c.dropped ?? []), ...gone])];
      });
      return { removed, kept };
    }
    checkpoint('aggregate:prune-written');
    await this.save({ ...this.commit, pending: { size: outSize, own: newOwn } }, true);
    checkpoint('aggregate:prune-recorded');
    await fs.rename(this.pruneFile, this.file);
    checkpoint('aggregate:prune-renamed');
    this.dropKeys();
    const next: AggCommit = { ...this.commit, size: outSize, own: newOwn, ...(windowed ? { pruned: { at: now, cutoff } } : {}), ...(gone.size ? { dropped: [...new Set([...(this.commit.dropped ?? []), ...gone])] } : {}) };
    await this.save(next, true);
    this.commit = next;
    return { removed, kept };
  }

  async save(commit: AggCommit = this.commit, durable = false): Promise<void> {
    this.changed = true;
    if (durable) await writeJsonAtomic(this.commitFile, commit);
    else await writeJsonRenamed(this.commitFile, commit);
  }

  /**
   * Makes what is committed durable (fdatasync the file, fsync the record). Appends skip it
   * (rename alone is atomic against kill -9); tasks call this once at their end and before
   * shipping. After a power cut without it, recover() finds the file shorter than recorded
   * and rebuilds this machine's rows from the eval log, deduplicated. A store this process has
   * not changed is left as it is.
   */
  async flush(): Promise<void> {
    if (!this.changed) return;
    const fh = await fs.open(this.file, 'r').catch(() => undefined);
    if (fh) {
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await this.save(this.commit, true);
    this.changed = false;
  }

  /**
   * Writes `text` (complete lines; given as bytes, they are written as they are) at the
   * committed size with one write, then commits the new size together with `update`
   * (atomically, by rename). Returns the byte range written.
   */
  async append(text: string | Uint8Array, update: (c: AggCommit, range: [number, number]) => void): Promise<[number, number]> {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    const start = this.commit.size;
    const range: [number, number] = [start, start + bytes.length];
    const next: AggCommit = { ...this.commit, own: this.commit.own.slice(), size: range[1] };
    update(next, range);
    try {
      if (bytes.length > 0) await this.write(bytes, start);
      checkpoint('aggregate:written');
      await this.save(next);
    } catch (err) {
      // Whether or not the record landed, the next open() settles it; keys added meanwhile may be wrong.
      this.dropKeys();
      this.broken = true;
      throw err;
    }
    this.commit = next;
    checkpoint('aggregate:committed');
    return range;
  }

  /** True after a failed append: the owner must open the store again (recover) before writing. */
  broken = false;

  // Synchronous like writeJsonRenamed (adapters/fs.ts): no event-loop wake-ups per chunk.
  private async write(bytes: Uint8Array, at: number): Promise<void> {
    let fd: number;
    try {
      fd = openSync(this.file, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(path.dirname(this.file), { recursive: true });
      fd = openSync(this.file, constants.O_RDWR | constants.O_CREAT, 0o644);
    }
    try {
      const written = writeSync(fd, bytes, 0, bytes.length, at);
      if (written !== bytes.length) {
        try {
          ftruncateSync(fd, at);
        } catch {
          // the next open() cuts it anyway
        }
        throw new SnappyError(`short write to ${this.file}`, { code: ErrorCode.Invalid, details: { path: this.file } });
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Forgets the key set (its additions may not have reached the file). */
  dropKeys(): void {
    this.keys = undefined;
    this.tenantRows = undefined;
  }

  /**
   * Every (tenant, run_id) in the committed file, loaded once and kept up to date by the
   * callers that append. With `tenant`, the same pass also keeps that tenant's rows with a
   * fingerprint each (see `rowsOf`).
   */
  async keySet(tenant?: string): Promise<Set<string>> {
    if (this.keys && (!tenant || this.tenantRows?.tenant === tenant)) return this.keys;
    const keys = new Set<string>();
    const rows = new Map<string, number>();
    await forEachLine(this.file, this.commit.size, (text, s, e) => {
      const k = keyOfLine(text, s, e);
      if (!k) return;
      keys.add(k);
      if (tenant && k.startsWith(tenant)) rows.set(k.slice(tenant.length), fingerprint(text, s, e));
    });
    this.keys = keys;
    if (tenant) this.tenantRows = { tenant, rows };
    return keys;
  }

  /** The key set if it is loaded (callers add the keys they append to it). */
  loadedKeys(): Set<string> | undefined {
    return this.keys;
  }

  /** `tenant`'s rows (run_id -> fingerprint), once `keySet(tenant)` loaded them; callers add what they append. */
  rowsOf(tenant: string): Map<string, number> | undefined {
    return this.keys && this.tenantRows?.tenant === tenant ? this.tenantRows.rows : undefined;
  }

  /** The committed row of (tenant, run_id), parsed; one pass over the file, for messages. */
  async findRow(tenant: string, runId: string): Promise<AggRow | undefined> {
    let found: AggRow | undefined;
    const needle = `"run_id":"${runId}","tenant":"${tenant}"`;
    // One search per chunk, not per line: the next hit in the chunk is kept until its line comes.
    let chunk: string | undefined;
    let hit = -1;
    await forEachLine(this.file, this.commit.size, (text, s, e) => {
      if (found) return;
      if (text !== chunk || (hit >= 0 && hit < s)) {
        chunk = text;
        hit = text.indexOf(needle, s);
      }
      if (hit < 0 || hit >= e) return;
      const c = checkAggLine(text.slice(s, e));
      if (c.ok) found = c.row;
    });
    return found;
  }

  /** Reads the bytes [start, end) of the aggregate file. */
  async read(start: number, end: number): Promise<Buffer> {
    const fh = await fs.open(this.file, 'r');
    try {
      const b = Buffer.alloc(end - start);
      const { bytesRead } = await fh.read(b, 0, b.length, start);
      if (bytesRead !== b.length) throw new SnappyError(`${this.file} is shorter than its commit record says (${start + bytesRead} < ${end})`, { code: ErrorCode.Malformed, details: { path: this.file } });
      return b;
    } finally {
      await fh.close();
    }
  }
}

const TS_AT = '{"_v":1,"ts":"';

/** The `ts` of an aggregate line (ISO-8601, as rows are written), or undefined for a line that has none. */
function tsOfLine(line: string): string | undefined {
  if (line.startsWith(TS_AT) && line.charCodeAt(TS_AT.length + 24) === 34) return line.slice(TS_AT.length, TS_AT.length + 24);
  const c = checkAggLine(line);
  return c.ok ? new Date(c.row.ts).toISOString() : undefined;
}

/** The dedupe key of an aggregate row: tenant and run_id. */
export function rowKey(tenant: string, runId: string): string {
  return tenant + runId;
}

/**
 * A 32-bit FNV-1a of an aggregate line (`text[s, e)`): rows are written in one canonical form,
 * so the same row always gives the same number, and two runs sharing a run id almost never do.
 */
export function fingerprint(text: string, s = 0, e = text.length): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

const RUN_ID_AT = '"run_id":"';
const TENANT_AFTER = '","tenant":"';

/**
 * The key of one line of the aggregate file. Lines this plugin wrote have the run_id and
 * tenant side by side at fixed widths; anything else is parsed.
 */
function keyOfLine(text: string, s: number, e: number): string | undefined {
  const i = text.indexOf(RUN_ID_AT, s);
  if (i >= 0 && i < e) {
    const r = i + RUN_ID_AT.length;
    if (text.startsWith(TENANT_AFTER, r + 16) && text.charCodeAt(r + 16 + TENANT_AFTER.length + 12) === 34) {
      return rowKey(text.slice(r + 16 + TENANT_AFTER.length, r + 16 + TENANT_AFTER.length + 12), text.slice(r, r + 16));
    }
  }
  const c = checkAggLine(text.slice(s, e));
  return c.ok ? rowKey(c.row.tenant, c.row.run_id) : undefined;
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** Size of the file up to and including its last newline. */
async function completeLinesSize(file: string, size: number): Promise<number> {
  if (size === 0) return 0;
  const fh = await fs.open(file, 'r');
  try {
    const b = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - b.length);
      const { bytesRead } = await fh.read(b, 0, end - start, start);
      const nl = b.subarray(0, bytesRead).lastIndexOf(10);
      if (nl >= 0) return start + nl + 1;
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/**
 * The bytes of `file[0, limit)`, read in chunks of up to 8 MB; nothing for a missing file. Each
 * chunk is a view of one buffer: use it before asking for the next.
 */
async function* chunksOf(file: string, limit: number): AsyncGenerator<Buffer> {
  if (limit === 0) return;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const buf = Buffer.alloc(Math.min(8 << 20, limit));
    for (let pos = 0; pos < limit; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Calls `fn` for each line of `file[0, limit)` as bytes with its newline, and its byte offset:
 * empty lines included, so offsets stay exact (the commit record's ranges are in bytes).
 */
async function forEachLineBytes(file: string, limit: number, fn: (line: Buffer, at: number) => Promise<void> | void): Promise<void> {
  let carry = Buffer.alloc(0);
  let at = 0;
  for await (const bytes of chunksOf(file, limit)) {
    const chunk = carry.length ? Buffer.concat([carry, bytes]) : Buffer.from(bytes);
    let s = 0;
    for (;;) {
      const nl = chunk.indexOf(10, s);
      if (nl < 0) break;
      await fn(chunk.subarray(s, nl + 1), at);
      at += nl + 1 - s;
      s = nl + 1;
    }
    carry = Buffer.from(chunk.subarray(s));
  }
}

/** Calls `fn` for each complete line of `file[0, limit)`, in 8 MB chunks. */
export async function forEachLine(file: string, limit: number, fn: (text: string, start: number, end: number) => void): Promise<void> {
  let carry = '';
  for await (const bytes of chunksOf(file, limit)) {
    const text = carry + bytes.toString('utf8');
    let s = 0;
    for (;;) {
      const nl = text.indexOf('\n', s);
      if (nl < 0) break;
      if (nl > s) fn(text, s, nl);
      s = nl + 1;
    }
    carry = text.slice(s);
  }
}
