import { isAscii, isUtf8 } from 'node:buffer';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, promises as fs, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkpoint } from '../core/checkpoint.ts';
import type { EvalEvent, MalformedRow, SnappyHooks } from '../core/hooks.ts';
import type { Identity, IngestSummary } from '../core/plugin.ts';
import { MAX_LINE_BYTES, parseEvalBytes, parseEvalSpan, type EvalRow } from '../domain/eval-row.ts';
import { CONTROL_CHAR, EvalFields } from '../domain/eval-scan.ts';
import { State } from '../domain/state-layout.ts';
import { readJsonFile } from '../adapters/fs.ts';

/** Where the ingest has got to in `log/evals.ndjson`. */
export interface IngestCursor {
  /** Changes whenever the log is found truncated or replaced; with `offset` it names a row. */
  generation: string;
  offset: number;
  line: number;
  /** SHA-256 of the first line: tells an appended log from a replaced one. */
  head: string;
}

// 2 MB: small enough that a chunk's events die young (8 MB chunks spent ~40% more CPU, mostly in GC).
export const CHUNK_BYTES = 2 << 20;
const HEAD_BYTES = 4096;

/** The rows and skipped lines of one run of complete lines. */
export interface ParsedChunk {
  events: EvalEvent[];
  malformed: MalformedRow[];
  /** Line number of the last line parsed. */
  line: number;
}

/**
 * The eval ingest: reads the rows appended to `log/evals.ndjson` since the last pass, fires
 * `afterEval` once per well-formed row, then `afterIngest` for the chunk, then moves the
 * cursor (`.snappy/ingest.json`) past the chunk. A crash before the cursor moves replays the
 * chunk with the same (generation, offset) identities, so consumers stay exactly-once by
 * remembering the last identity they committed. A last line without its newline is an
 * append in progress and is left for the next pass. A log that shrank below the cursor, or
 * whose first line changed, was truncated or replaced: it is read again from the start
 * under a new generation, which is written down before any hook fires so that a crash
 * replays under the same one.
 */
export async function ingestEvalLog(
  stateDir: string,
  hooks: SnappyHooks,
  opts: { chunkBytes?: number; identity?: Identity } = {},
): Promise<IngestSummary & { malformed: MalformedRow[] }> {
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES;
  const logFile = path.join(stateDir, State.evalLog);
  const cursorFile = path.join(stateDir, State.internal('ingest.json'));
  const summary = { rows: 0, malformed: [] as MalformedRow[], bytes: 0, restarted: false };
  // With no afterEval tap, skip the per-row await (a million of them cost ~100 ms).
  const perRow = (hooks.afterEval as unknown as { taps: unknown[] }).taps.length > 0;
  let fh: fs.FileHandle;
  // The next chunk is read while this one's hooks run (its start is known once it is parsed).
  let ahead: { at: number; want: number; buf: Buffer; read: Promise<{ bytesRead: number }> } | undefined;
  try {
    fh = await fs.open(logFile, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return summary;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const head = await headHash(fh);
    // An unreadable cursor (a power cut between rename and writeback) counts as a restart:
    // consumers recognise re-read rows (the aggregate by tenant + run_id).
    const saved = await readJsonFile<IngestCursor>(cursorFile).catch(() => {
      summary.restarted = true;
      return undefined;
    });
    let cursor = saved ?? fresh(head);
    if (cursor.offset > size || (cursor.offset > 0 && cursor.head !== head)) {
      summary.restarted = cursor.offset > 0;
      cursor = fresh(head);
    }
    if (cursor.offset === 0) cursor.head = head;
    if (!saved || cursor !== saved) await writeJsonRenamed(cursorFile, cursor);

    let buf: Buffer = Buffer.alloc(Math.min(chunkBytes, Math.max(size - cursor.offset, 1)));
    let spare: Buffer = Buffer.alloc(0);
    while (cursor.offset < size) {
      const want = Math.min(chunkBytes, size - cursor.offset);
      let bytesRead: number;
      if (ahead && ahead.at === cursor.offset && ahead.want === want) {
        spare = buf;
        buf = ahead.buf;
        bytesRead = (await ahead.read).bytesRead;
        ahead = undefined;
      } else {
        if (ahead) await ahead.read.catch(() => undefined);
        ahead = undefined;
        if (buf.length < want) buf = Buffer.alloc(want);
        bytesRead = (await fh.read(buf, 0, want, cursor.offset)).bytesRead;
      }
      if (bytesRead === 0) break;
      const lastNl = buf.lastIndexOf(10, bytesRead - 1);
      if (lastNl < 0) {
        if (bytesRead < chunkBytes) break; // an append in progress
        // One line longer than a whole chunk: skip to its end without holding it.
        const end = await findNewline(fh, cursor.offset + bytesRead, size);
        if (end < 0) break;
        cursor.line++;
        summary.malformed.push({ line: cursor.line, offset: cursor.offset, reason: `line longer than ${MAX_LINE_BYTES} bytes` });
        cursor = { ...cursor, offset: end + 1 };
        await writeJsonRenamed(cursorFile, cursor);
        continue;
      }
      const { events, malformed, line } = parseEvalChunk(buf, lastNl + 1, cursor.offset, cursor.line, cursor.generation, stateDir);
      const endOffset = cursor.offset + lastNl + 1;
      const nextWant = Math.min(chunkBytes, size - endOffset);
      if (nextWant > 0) {
        if (spare.length < nextWant) spare = Buffer.alloc(nextWant);
        const b = spare;
        ahead = { at: endOffset, want: nextWant, buf: b, read: fh.read(b, 0, nextWant, endOffset) };
        ahead.read.catch(() => undefined); // awaited (and thrown) when used
      }
      if (perRow) for (const ev of events) await hooks.afterEval.promise(ev);
      checkpoint('ingest:rows-observed');
      await hooks.afterIngest.promise({
        generation: cursor.generation,
        startOffset: cursor.offset,
        endOffset,
        events,
        malformed,
        stateDir,
        ...(opts.identity ? { identity: opts.identity } : {}),
      });
      checkpoint('ingest:chunk-flushed');
      cursor = { ...cursor, offset: endOffset, line };
      await writeJsonRenamed(cursorFile, cursor);
      summary.rows += events.length;
      summary.bytes += lastNl + 1;
      for (const m of malformed) summary.malformed.push(m);
    }
  } finally {
    if (ahead) await ahead.read.catch(() => undefined);
    await fh.close();
  }
  return summary;
}

/** The ingest cursor of a state dir, or undefined before the first ingest. */
export function readIngestCursor(stateDir: string): Promise<IngestCursor | undefined> {
  return readJsonFile<IngestCursor>(path.join(stateDir, State.internal('ingest.json')));
}

/**
 * Parses `buf[0, bytes)`, which ends with a newline, into rows. `baseOffset` is the byte
 * offset of `buf[0]` in the log and `baseLine` the number of lines before it. Rows are read
 * from the bytes as they are (no string copy of the chunk); a line the byte scanner cannot
 * vouch for (any byte >= 0x80, escapes in a read field, anything malformed) is checked for
 * valid UTF-8, decoded on its own and parsed by the string path, which decides.
 */
export function parseEvalChunk(buf: Buffer, bytes: number, baseOffset: number, baseLine: number, generation: string, stateDir?: string): ParsedChunk {
  const events: EvalEvent[] = [];
  const malformed: MalformedRow[] = [];
  const fields = chunkFields;
  let line = baseLine;
  for (let s = 0; s < bytes; ) {
    line++;
    const offset = baseOffset + s;
    let r: EvalRow | string | undefined;
    let nl: number;
    if (buf[s] === 123 /* { */) {
      r = parseEvalBytes(buf, s, bytes, fields);
      // The scanner stops at the newline only when it vouches for the whole line.
      nl = r === undefined ? buf.indexOf(10, s) : fields.end;
    } else nl = buf.indexOf(10, s);
    if (nl < 0 || nl >= bytes) {
      line--; // cannot happen (the chunk ends with a newline), but never count a line not read
      break;
    }
    const len = nl - s;
    if (len > MAX_LINE_BYTES) {
      malformed.push({ line, offset, reason: `line longer than ${MAX_LINE_BYTES} bytes` });
      r = undefined;
    } else if (r === undefined && len > 0) r = parseLineSlow(buf, s, nl);
    if (r !== undefined) {
      if (typeof r === 'string') malformed.push({ line, offset, reason: r });
      else if (stateDir !== undefined) {
        events.push(r.rev === undefined
          ? r.costCents === undefined
            ? { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, generation, offset, line, stateDir }
            : { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, costCents: r.costCents, generation, offset, line, stateDir }
          : r.costCents === undefined
            ? { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, rev: r.rev, generation, offset, line, stateDir }
            : { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, rev: r.rev, costCents: r.costCents, generation, offset, line, stateDir });
      } else {
        const ev = r as EvalEvent;
        ev.generation = generation;
        ev.offset = offset;
        ev.line = line;
        events.push(ev);
      }
    }
    s = nl + 1;
  }
  return { events, malformed, line };
}

const chunkFields = new EvalFields();

/**
 * The string path for one line `buf[s, nl)`: not valid UTF-8 is malformed; blank lines are
 * ignored (undefined); anything else goes through the string scanner and JSON.parse.
 */
function parseLineSlow(buf: Buffer, s: number, nl: number): EvalRow | string | undefined {
  const raw = buf.subarray(s, nl);
  if (!isAscii(raw) && !isUtf8(raw)) return 'invalid UTF-8';
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  const p = parseEvalSpan(text, 0, text.length, !CONTROL_CHAR.test(text));
  return p.ok ? p.row : p.reason;
}


/**
 * Replaces a small JSON file by rename, without fsync: atomic against a killed process, which
 * is all exactly-once needs (an fsync per 2 MB chunk cost 4x the parsing on a busy disk). After
 * a power cut an unreadable cursor counts as a restart, and consumers recognise re-read rows.
 * The calls are synchronous on purpose: a few tens of microseconds each, where each async
 * step meant a wake-up of the event loop, and on a busy machine every wake-up waits for a
 * time slice (a full build spent more time waiting for those than computing).
 */
export async function writeJsonRenamed(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const text = JSON.stringify(value);
  try {
    writeFileSync(tmp, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, text);
  }
  renameSync(tmp, file);
}

function fresh(head: string): IngestCursor {
  return { generation: randomBytes(6).toString('hex'), offset: 0, line: 0, head };
}

/** Fingerprint of the log's first line (at most HEAD_BYTES of it). */
export async function headHash(fh: fs.FileHandle): Promise<string> {
  const b = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await fh.read(b, 0, HEAD_BYTES, 0);
  const nl = b.subarray(0, bytesRead).indexOf(10);
  const first = nl >= 0 ? b.subarray(0, nl) : b.subarray(0, bytesRead);
  return createHash('sha256').update(first).digest('hex').slice(0, 16);
}

async function findNewline(fh: fs.FileHandle, from: number, size: number): Promise<number> {
  const b = Buffer.alloc(1 << 20);
  for (let pos = from; pos < size; ) {
    const { bytesRead } = await fh.read(b, 0, b.length, pos);
    if (bytesRead === 0) return -1;
    const i = b.subarray(0, bytesRead).indexOf(10);
    if (i >= 0) return pos + i;
    pos += bytesRead;
  }
  return -1;
}
