/**
 * The closest of `candidates` to a mistyped `word`, or undefined when none is close enough
 * to be a likely typo. Distance is optimal string alignment (a swap of two neighbours costs
 * one, as in `stauts`), compared without case or dashes (`--dryrun` for `--dry-run`); a word
 * that starts a candidate counts as one edit away (`--cost` for `--cost-usd`).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = fold(word);
  if (!w) return undefined;
  // Short words allow fewer edits, or every two-letter flag would be "close" to everything.
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const f = fold(c);
    if (!f || f === w) {
      if (f === w && c !== word) return c;
      continue;
    }
    let d = distance(w, f);
    if (w.length >= 3 && f.startsWith(w)) d = Math.min(d, 1);
    // Ties go to the candidate of the nearest length.
    const score = d + Math.abs(f.length - w.length) / 1000;
    if (d <= limit && score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

function fold(s: string): string {
  return s.toLowerCase().replace(/[-_]/g, '');
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}
