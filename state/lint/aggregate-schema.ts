// Checks files of aggregate rows (`log/evals.aggregate.ndjson`) against the locked schema v1.
//   npx tsx state/lint/aggregate-schema.ts [FILE...]     (also: snappy lint aggregate [FILE...])
// Prints `FILE:LINE: reason` for every problem (unknown key, missing key, wrong type,
// fractional cents, out-of-range value, keys out of schema order, a line that is not JSON or
// not UTF-8), exits 1 if there is any and 0 when every line conforms. With no FILE it checks
// `<state dir>/log/evals.aggregate.ndjson`, the state dir being $SNAPPY_STATE or `./state`
// (relative to the current directory); that default file being absent means nothing to check.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aggIssues, checkAggLine } from '../../domain/agg-row.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a lint run found. */
export interface LintResult {
  files: number;
  lines: number;
  /** Lines with at least one problem. */
  badLines: number;
  /** Problems printed (a line may have several). */
  problems: number;
}

/** One problem of one line. */
export interface LintProblem {
  file: string;
  line: number;
  reason: string;
}

/** `FILE:LINE: reason`, the way the lint prints a problem. */
export function formatProblem(p: LintProblem): string {
  return `${p.file}:${p.line}: ${p.reason}`;
}

/** The file checked when none is named. */
export function defaultAggregateFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.SNAPPY_STATE || 'state', 'log', 'evals.aggregate.ndjson');
}

/**
 * Lints `files` (or `defaultFile`), handing every problem to `out` and file-level messages
 * (an unreadable file) to `err`.
 */
export async function lintAggregateFiles(files: readonly string[], out: (problem: LintProblem) => void, err: (line: string) => void, defaultFile = defaultAggregateFile()): Promise<LintResult> {
  const res: LintResult = { files: 0, lines: 0, badLines: 0, problems: 0 };
  const named = files.length > 0;
  for (const file of named ? files : [defaultFile]) {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!named && code === 'ENOENT') {
        err(`${file}: no such file (no aggregate rows yet): nothing to check`);
        continue;
      }
      err(`${file}: cannot read: ${code ?? (e as Error).message}`);
      res.problems++;
      continue;
    }
    res.files++;
    try {
      await lintHandle(fh, file, res, out);
    } finally {
      await fh.close();
    }
  }
  return res;
}

async function lintHandle(fh: fs.FileHandle, file: string, res: LintResult, out: (problem: LintProblem) => void): Promise<void> {
  const buf = Buffer.alloc(4 << 20);
  let carry = Buffer.alloc(0);
  let pos = 0;
  let lineNo = 0;
  const report = (bytes: Buffer) => {
    lineNo++;
    res.lines++;
    const reasons = problemsOf(bytes);
    if (reasons.length === 0) return;
    res.badLines++;
    for (const r of reasons) {
      out({ file, line: lineNo, reason: r });
      res.problems++;
    }
  };
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    let s = 0;
    for (let nl = chunk.indexOf(10, s); nl >= 0; nl = chunk.indexOf(10, s)) {
      report(chunk.subarray(s, nl));
      s = nl + 1;
    }
    carry = Buffer.from(chunk.subarray(s));
  }
  if (carry.length > 0) report(carry);
}

/** Every problem of one line, in words (empty when it conforms). */
export function problemsOf(bytes: Uint8Array): string[] {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return ['not valid UTF-8'];
  }
  if (text.trim() === '') return ['empty line (expected one JSON object a line)'];
  const c = checkAggLine(text);
  if (c.ok) return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return [`not valid JSON (${(e as Error).message})`];
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ['not a JSON object'];
  const issues = aggIssues(v as Record<string, unknown>);
  return issues.length ? issues : [c.reason];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const res = await lintAggregateFiles(process.argv.slice(2), (p) => process.stdout.write(`${formatProblem(p)}\n`), (l) => process.stderr.write(`${l}\n`));
  process.stderr.write(`${res.lines} line(s) in ${res.files} file(s): ${res.problems === 0 ? 'all conform to the aggregate schema v1' : `${res.problems} problem(s) on ${res.badLines} line(s)`}\n`);
  process.exitCode = res.problems > 0 ? 1 : 0;
}
