/**
 * Line diffs in the unified format (`diff -u`), for an operator comparing a staged page with
 * the canonical one it would replace. Myers' O(ND) algorithm: fast when the two texts are
 * close, which revisions of a page are. Pages are bounded (1 MiB), and so is the work: past
 * MAX_EDIT edits the diff is given as the whole old text removed and the new one added.
 */

type Op = { kind: ' ' | '-' | '+'; line: string };

const MAX_EDIT = 4000;

/** The lines of a text; a last line without its newline is marked as `diff` marks it. */
function linesOf(text: string): { lines: string[]; noEol: boolean } {
  if (text === '') return { lines: [], noEol: false };
  const noEol = !text.endsWith('\n');
  const lines = (noEol ? text : text.slice(0, -1)).split('\n');
  return { lines, noEol };
}

/** The edit script turning `a` into `b` (Myers, with the trace kept for the path back). */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_EDIT); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: ' ', line: a[--x]! }), y--;
    if (x === prevX) ops.push({ kind: '+', line: b[--y]! });
    else ops.push({ kind: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) ops.push({ kind: ' ', line: a[--x]! }), y--;
  return ops.reverse();
}

/**
 * `a` and `b` as a unified diff with `context` lines around each change, headed
 * `--- <aName>` / `+++ <bName>`; the empty string when they are equal.
 */
export function unifiedDiff(aText: string, bText: string, aName: string, bName: string, context = 3): string {
  if (aText === bText) return '';
  const A = linesOf(aText);
  const B = linesOf(bText);
  // A last line without its newline differs from the same line with one, as in diff.
  const mark = '\u0000';
  const a = A.noEol && A.lines.length ? [...A.lines.slice(0, -1), A.lines[A.lines.length - 1]! + mark] : A.lines;
  const b = B.noEol && B.lines.length ? [...B.lines.slice(0, -1), B.lines[B.lines.length - 1]! + mark] : B.lines;
  let ai = 0;
  let bi = 0;
  const rows = editScript(a, b).map((o) => {
    const r = { ...o, a: ai, b: bi };
    if (o.kind !== '+') ai++;
    if (o.kind !== '-') bi++;
    return r;
  });
  const changed: number[] = [];
  rows.forEach((r, i) => r.kind !== ' ' && changed.push(i));
  const out: string[] = [`--- ${aName}`, `+++ ${bName}`];
  for (let g = 0; g < changed.length; ) {
    // Changes closer than 2 * context unchanged lines share a hunk.
    let last = g;
    while (last + 1 < changed.length && changed[last + 1]! - changed[last]! - 1 <= 2 * context) last++;
    const from = Math.max(0, changed[g]! - context);
    const to = Math.min(rows.length, changed[last]! + 1 + context);
    const hunk = rows.slice(from, to);
    const aCount = hunk.filter((r) => r.kind !== '+').length;
    const bCount = hunk.filter((r) => r.kind !== '-').length;
    out.push(`@@ -${hunk[0]!.a + (aCount ? 1 : 0)},${aCount} +${hunk[0]!.b + (bCount ? 1 : 0)},${bCount} @@`);
    for (const r of hunk) {
      if (r.line.endsWith(mark)) out.push(`${r.kind}${r.line.slice(0, -1)}`, '\\ No newline at end of file');
      else out.push(`${r.kind}${r.line}`);
    }
    g = last + 1;
  }
  return `${out.join('\n')}\n`;
}
