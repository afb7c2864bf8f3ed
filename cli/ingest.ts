import { randomBytes, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { EvalEvent, MalformedRow, SnappyHooks } from '../core/hooks.ts';
import type { IngestSummary } from '../core/plugin.ts';
import { MAX_LINE_BYTES, parseEvalLine } from '../domain/eval-row.ts';
import { State } from '../domain/state-layout.ts';
import { readJsonFile, writeJsonAtomic } from '../adapters/fs.ts';

/** Where the ingest has got to in `log/evals.ndjson`. */
interface Cursor {
  /** Changes whenever the log is found truncated or replaced; with `offset` it names a row. */
  generation: string;
  offset: number;
  line: number;
  /** SHA-256 of the first line: tells an appended log from a replaced one. */
  head: string;
}

export const CHUNK_BYTES = 8 << 20;
const HEAD_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The eval ingest: reads the rows appended to `log/evals.ndjson` since the last pass, fires
 * `afterEval` once per well-formed row, then `afterIngest` for the chunk, then moves the
 * cursor (`.snappy/ingest.json`) past the chunk. A crash before the cursor moves replays the
 * chunk with the same (generation, offset) identities, so consumers stay exactly-once by
 * remembering the last identity they committed. A last line without its newline is an
 * append in progress and is left for the next pass. A log that shrank below the cursor, or
 * whose first line changed, was truncated or replaced: it is read again from the start
 * under a new generation.
 */
export async function ingestEvalLog(stateDir: string, hooks: SnappyHooks, opts: { chunkBytes?: number } = {}): Promise<IngestSummary & { malformed: MalformedRow[] }> {
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES;
  const logFile = path.join(stateDir, State.evalLog);
  const cursorFile = path.join(stateDir, State.internal('ingest.json'));
  const summary = { rows: 0, malformed: [] as MalformedRow[], bytes: 0, restarted: false };
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(logFile, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return summary;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const head = await headHash(fh);
    let cursor = (await readJsonFile<Cursor>(cursorFile)) ?? fresh(head);
    if (cursor.offset > size || (cursor.offset > 0 && cursor.head !== head)) {
      summary.restarted = cursor.offset > 0;
      cursor = fresh(head);
    }
    if (cursor.offset === 0) cursor.head = head;

    let buf = Buffer.alloc(Math.min(chunkBytes, Math.max(size - cursor.offset, 1)));
    while (cursor.offset < size) {
      const want = Math.min(chunkBytes, size - cursor.offset);
      if (buf.length < want) buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, cursor.offset);
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
        await writeJsonAtomic(cursorFile, cursor);
        continue;
      }
      const events: EvalEvent[] = [];
      const malformed: MalformedRow[] = [];
      let start = 0;
      let line = cursor.line;
      while (start <= lastNl) {
        const nl = buf.indexOf(10, start);
        line++;
        const offset = cursor.offset + start;
        const len = nl - start;
        if (len > MAX_LINE_BYTES) malformed.push({ line, offset, reason: `line longer than ${MAX_LINE_BYTES} bytes` });
        else if (len > 0) {
          let text: string | undefined = buf.toString('utf8', start, nl);
          if (text.includes('\uFFFD')) {
            try {
              text = utf8.decode(buf.subarray(start, nl));
            } catch {
              text = undefined;
              malformed.push({ line, offset, reason: 'invalid UTF-8' });
            }
          }
          if (text !== undefined && text.trim() !== '') {
            const r = parseEvalLine(text);
            if (r.ok) events.push({ ...r.row, generation: cursor.generation, offset, line });
            else malformed.push({ line, offset, reason: r.reason });
          }
        }
        start = nl + 1;
      }
      for (const ev of events) await hooks.afterEval.promise(ev);
      const endOffset = cursor.offset + lastNl + 1;
      await hooks.afterIngest.promise({ generation: cursor.generation, endOffset, events, malformed });
      cursor = { ...cursor, offset: endOffset, line };
      await writeJsonAtomic(cursorFile, cursor);
      summary.rows += events.length;
      summary.bytes += lastNl + 1;
      summary.malformed.push(...malformed);
    }
  } finally {
    await fh.close();
  }
  return summary;
}

function fresh(head: string): Cursor {
  return { generation: randomBytes(6).toString('hex'), offset: 0, line: 0, head };
}

async function headHash(fh: fs.FileHandle): Promise<string> {
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
