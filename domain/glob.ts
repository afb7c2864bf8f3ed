// picomatch's POSIX entry: the default one reads `process.platform`, which workerd lacks, and
// every path we match is POSIX anyway (state-dir paths, skill names).
import picomatch from 'picomatch/posix.js';
import { z } from 'zod';

/**
 * A list of globs (sync allow/deny lists, `quorum.manualReview`), in picomatch's dialect: `*`
 * within a path segment, `**` across segments, `?`, `[ab]` and `[a-z]` classes, `{a,b}`
 * alternatives and `{1..3}` ranges, extglobs such as `@(a|b)`; dot files match like any
 * other. Two additions: a leading `./` is dropped and a trailing `/` means everything under
 * that folder. A pattern starting with `!` excludes: a path is in the list when it matches
 * some plain pattern (or the list has only `!` patterns) and none of the `!` ones.
 */
export class GlobList {
  private readonly include: ((p: string) => boolean)[] = [];
  private readonly exclude: ((p: string) => boolean)[] = [];

  constructor(readonly globs: readonly string[]) {
    for (const g of globs) {
      const negated = isNegated(g);
      (negated ? this.exclude : this.include).push(compile(negated ? g.slice(1) : g));
    }
  }

  matches(path: string): boolean {
    if (this.globs.length === 0) return false;
    if (this.include.length > 0 && !this.include.some((m) => m(path))) return false;
    return !this.exclude.some((m) => m(path));
  }
}

/** Why `glob` is not a usable glob, or null when it is (for config validation). */
export function globProblem(glob: string): string | null {
  const g = isNegated(glob) ? glob.slice(1) : glob;
  if (g.trim() === '') return 'an empty pattern';
  try {
    compile(g);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One glob in a config list: refused at load time, naming the list, when it cannot compile. For use inside a schema being made. */
export function globSchema() {
  return z
    .string()
    .min(1)
    .max(1000)
    .superRefine((g, ctx) => {
      const problem = globProblem(g);
      if (problem) ctx.addIssue({ code: 'custom', message: `not a usable glob: ${problem}` });
    });
}

/** `!x` excludes; `!(a|b)` is an extglob, which picomatch reads itself. */
function isNegated(glob: string): boolean {
  return glob.startsWith('!') && !glob.startsWith('!(');
}

function compile(glob: string): (p: string) => boolean {
  let g = glob.replace(/^(\.\/)+/, '');
  if (g.endsWith('/')) g += '**';
  const plain = plainMatcher(g);
  if (plain) return plain;
  // What picomatch's own matcher does for these options, without the result object it builds
  // on every call: a push tests every path in the state dir.
  const re = picomatch.makeRe(g, { dot: true, strictBrackets: true });
  return (p) => p !== '' && (p === g || re.test(p));
}

/** Text with nothing picomatch reads as a pattern. */
const LITERAL = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;
const LITERAL_NAME = /^[A-Za-z0-9._-]*$/;

/**
 * The matcher picomatch would build (options as in compile) for the three shapes of glob most
 * lists hold, written out: `a/b`, `a/*<suffix>` and `a/**`. Nearly every run matches only the
 * default sync lists, which so neither compile a pattern nor load picomatch. Null for any other
 * glob. Exactly picomatch's answers, dot segments and trailing slashes included: a test checks
 * the two against each other on random paths (test/domain/glob.test.ts).
 */
function plainMatcher(g: string): ((p: string) => boolean) | null {
  if (LITERAL.test(g)) return (p) => p === g;
  const slash = g.lastIndexOf('/');
  if (slash <= 0) return null;
  const dir = g.slice(0, slash);
  const last = g.slice(slash + 1);
  if (!LITERAL.test(dir)) return null;
  const prefix = `${dir}/`;
  if (last === '**') {
    return (p) => p === dir || (p.startsWith(prefix) && !p.slice(prefix.length).split('/').some(isDotSegment));
  }
  if (last.startsWith('*') && LITERAL_NAME.test(last.slice(1))) {
    const suffix = last.slice(1);
    return (p) => {
      if (!p.startsWith(prefix)) return false;
      const rest = p.slice(prefix.length);
      if (rest === '' || isDotSegment(rest.split('/', 1)[0]!)) return false;
      // `*` alone also takes one trailing slash; `*<suffix>` must end with the suffix.
      const name = suffix === '' && rest.endsWith('/') ? rest.slice(0, -1) : rest;
      return !name.includes('/') && name.endsWith(suffix);
    };
  }
  return null;
}

function isDotSegment(s: string): boolean {
  return s === '.' || s === '..';
}
