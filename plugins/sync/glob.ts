/**
 * Minimal globs for allow/deny lists: `*` matches within one path segment, `**` any number of
 * segments, `?` one character, `{a,b}` alternatives. A pattern ending in `/` matches everything
 * under that folder. Matching is on relative POSIX paths.
 */
export function globToRegExp(glob: string): RegExp {
  let g = glob.replace(/^\.\//, '');
  if (g.endsWith('/')) g += '**';
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        const slashAfter = g[i + 2] === '/';
        re += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = g.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${g.slice(i + 1, end).split(',').map(escape).join('|')})`;
        i = end;
      }
    } else re += escape(c);
  }
  return new RegExp(`^${re}$`);
}

function escape(s: string): string {
  return s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** A compiled list of globs. */
export class GlobSet {
  private readonly res: RegExp[];
  constructor(readonly globs: readonly string[]) {
    this.res = globs.map(globToRegExp);
  }
  matches(rel: string): boolean {
    return this.res.some((r) => r.test(rel));
  }
}
