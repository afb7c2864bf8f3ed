import { isAscii, isUtf8 } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import type { promises as fs } from 'node:fs';
import path from 'node:path';
import type { EvalEvent, MalformedRow } from '../core/hooks.ts';
import { MAX_LINE_BYTES, parseEvalBytes, parseEvalSpan, type EvalRow } from '../domain/eval-row.ts';
import { CONTROL_CHAR, EvalFields } from '../domain/eval-scan.ts';
import { State } from '../domain/state-layout.ts';
import { readJsonFile } from './fs.ts';

// The eval log on disk (`log/evals.ndjson`): its ingest cursor, and the chunk parser the
// ingest and the aggregate's catch-up read it with.

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
export function parseEvalChunk(buf: Buffer, bytes: number, baseOffset: number, baseLine: number, generation: string): ParsedChunk {
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
      // One object shape per kind of row: the observers' loops stay monomorphic.
      else events.push(r.rev === undefined
          ? r.costCents === undefined
            ? { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, generation, offset, line }
            : { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, costCents: r.costCents, generation, offset, line }
          : r.costCents === undefined
            ? { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, rev: r.rev, generation, offset, line }
            : { skill: r.skill, ts: r.ts, score: r.score, runId: r.runId, ok: r.ok, rev: r.rev, costCents: r.costCents, generation, offset, line });
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


export function freshCursor(head: string): IngestCursor {
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

/** Offset just past the next newline at or after `from`, or -1 when there is none before `limit`. */
export async function nextLineStart(fh: fs.FileHandle, from: number, limit: number): Promise<number> {
  const b = Buffer.alloc(1 << 20);
  for (let pos = from; pos < limit; ) {
    const { bytesRead } = await fh.read(b, 0, Math.min(b.length, limit - pos), pos);
    if (bytesRead === 0) return -1;
    const i = b.subarray(0, bytesRead).indexOf(10);
    if (i >= 0) return pos + i + 1;
    pos += bytesRead;
  }
  return -1;
}
