import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkpoint } from '../core/checkpoint.ts';
import type { RunContext } from '../core/context.ts';
import type { MalformedRow } from '../core/hooks.ts';
import type { IngestSummary } from '../core/plugin.ts';
import type { Runner } from '../core/runner.ts';
import { MAX_LINE_BYTES } from '../domain/eval-row.ts';
import { State } from '../domain/state-layout.ts';
import { CHUNK_BYTES, freshCursor, headHash, nextLineStart, parseEvalChunk, type IngestCursor } from '../adapters/eval-log.ts';
import { readJsonFile, unreadable, writeJsonRenamed } from '../adapters/fs.ts';

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
  run: RunContext,
  runner: Pick<Runner, 'each' | 'hooks'>,
  opts: { chunkBytes?: number } = {},
): Promise<IngestSummary & { malformed: MalformedRow[] }> {
  const { stateDir } = run;
  const hooks = runner.hooks;
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES;
  const logFile = path.join(stateDir, State.evalLog);
  const cursorFile = path.join(stateDir, State.internal('ingest.json'));
  const summary = { rows: 0, malformed: [] as MalformedRow[], bytes: 0, restarted: false };
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
    let cursor = saved ?? freshCursor(head);
    if (cursor.offset > size || (cursor.offset > 0 && cursor.head !== head)) {
      summary.restarted = cursor.offset > 0;
      cursor = freshCursor(head);
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
        const next = await nextLineStart(fh, cursor.offset + bytesRead, size);
        if (next < 0) break;
        cursor.line++;
        summary.malformed.push({ line: cursor.line, offset: cursor.offset, reason: `line longer than ${MAX_LINE_BYTES} bytes` });
        cursor = { ...cursor, offset: next };
        await writeJsonRenamed(cursorFile, cursor);
        continue;
      }
      const { events, malformed, line } = parseEvalChunk(buf, lastNl + 1, cursor.offset, cursor.line, cursor.generation);
      const endOffset = cursor.offset + lastNl + 1;
      const nextWant = Math.min(chunkBytes, size - endOffset);
      if (nextWant > 0) {
        if (spare.length < nextWant) spare = Buffer.alloc(nextWant);
        const b = spare;
        ahead = { at: endOffset, want: nextWant, buf: b, read: fh.read(b, 0, nextWant, endOffset) };
        ahead.read.catch(() => undefined); // awaited (and thrown) when used
      }
      await runner.each('afterEval', run, events);
      checkpoint('ingest:rows-observed');
      await hooks.afterIngest.promise(run, { generation: cursor.generation, startOffset: cursor.offset, endOffset, rows: events.length, malformed });
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



/**
 * One ingest pass of a run, with its reporting: each malformed row once as FILE:LINE: reason
 * (the first 20), a restarted log, and the counts under the run's report. `snappy run`,
 * `snappy eval` and `snappy watch` all ingest through here.
 */
export async function ingestRun(run: RunContext, runner: Pick<Runner, 'each' | 'hooks'>): Promise<IngestSummary> {
  const logFile = path.join(run.stateDir, State.evalLog);
  const res = await ingestEvalLog(run, runner).catch((err: unknown) => {
    throw unreadable(err, logFile, 'ingest');
  });
  const shown = res.malformed.slice(0, 20);
  for (const m of shown) run.log.warn(`${logFile}:${m.line}: ${m.reason} (row skipped)`);
  if (res.malformed.length > shown.length) run.log.warn(`... and ${res.malformed.length - shown.length} more malformed rows skipped`);
  if (res.restarted) run.log.warn(`${State.evalLog} was truncated or replaced since the last run: read it again from the start`);
  run.report({ rows: res.rows, malformed: res.malformed.length, bytes: res.bytes, restarted: res.restarted });
  return res;
}
