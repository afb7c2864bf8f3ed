import { ErrorCode, SnappyError } from '../core/errors.ts';
import { closest } from './suggest.ts';

/** What the parser knew when it refused the arguments. */
export interface ParserView {
  /** The command path reached, e.g. ['run']; empty at the top level. */
  commands: string[];
  /** That command's usage line, e.g. `lint <what> [files..]`. */
  usage?: string;
  /** Every flag valid there (long names, dashed), aliases included. */
  flags: string[];
  /** The top-level command names. */
  topCommands: string[];
}

/**
 * Turns one of the parser's refusals into a one-line usage error that names the problem and
 * the closest valid command or flag. The parser runs with its English messages, so their
 * shape is known; a message not recognised here is passed on as it is.
 */
export function usageError(msg: string, view: ParserView, args: readonly string[]): SnappyError {
  const where = ['snappy', ...view.commands].join(' ');
  const help = `${where} --help`;
  const usage = view.usage ? `snappy ${view.usage}` : undefined;
  const fail = (message: string, details: Record<string, unknown> = {}) =>
    new SnappyError(message, { code: ErrorCode.Usage, details: { command: where, ...(usage ? { usage } : {}), ...details } });
  let m: RegExpExecArray | null;

  if ((m = /^Unknown arguments?: (.+)$/s.exec(msg))) {
    const names = m[1]!.split(', ');
    const flags = names.filter((n) => isFlagInArgs(n, args));
    const words = names.filter((n) => !flags.includes(n));
    if (words.length && !view.commands.length) {
      const s = closest(words[0]!, view.topCommands);
      return fail(`unknown command "${words[0]}"; ${s ? `did you mean "${s}"?` : `the commands are ${view.topCommands.join(', ')}`} (see snappy --help)`, { unknown: words[0], ...(s ? { suggestion: s } : {}) });
    }
    if (flags.length) {
      const positionals = positionalsOf(view.usage);
      const known = view.flags.filter((x) => x.length > 1 && !positionals.includes(x));
      const parts = flags.map((f) => {
        const s = closest(f, known);
        return { flag: dashed(f), ...(s ? { suggestion: dashed(s) } : {}) };
      });
      const text =
        parts.length === 1
          ? `unknown flag ${parts[0]!.flag} for ${where}${parts[0]!.suggestion ? `; did you mean ${parts[0]!.suggestion}?` : ''}`
          : `unknown flags for ${where}: ${parts.map((p) => `${p.flag}${p.suggestion ? ` (did you mean ${p.suggestion}?)` : ''}`).join(', ')}`;
      return fail(`${text} (see ${help})`, { unknown: parts.map((p) => p.flag), ...(parts[0]!.suggestion ? { suggestion: parts[0]!.suggestion } : {}) });
    }
    return fail(`unexpected argument${words.length > 1 ? 's' : ''} ${words.map((w) => JSON.stringify(w)).join(', ')} for ${where}${usage ? ` (usage: ${usage})` : ''}`, { unknown: words });
  }

  if ((m = /^Missing required arguments?: (.+)$/s.exec(msg))) {
    const positionals = positionalsOf(view.usage);
    const names = m[1]!.split(', ').map((n) => (positionals.includes(n) ? `<${n}>` : dashed(n)));
    return fail(`missing ${joinAnd(names)} for ${where} (see ${help})`, { missing: names });
  }

  if ((m = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(msg))) {
    const required = positionalsOf(view.usage, true).slice(Number(m[1]));
    const names = required.length ? required.map((n) => `<${n}>`) : ['more arguments'];
    return fail(`missing ${joinAnd(names)} for ${where}${usage ? ` (usage: ${usage})` : ''}`, { missing: names });
  }

  if ((m = /^Too many non-option arguments: got (\d+), maximum of (\d+)$/.exec(msg))) {
    return fail(`too many arguments for ${where}${usage ? ` (usage: ${usage})` : ''}`);
  }

  if ((m = /^Invalid values:\s+Argument: (\S+), Given: (.+), Choices: (.+)$/s.exec(msg))) {
    const name = positionalsOf(view.usage).includes(m[1]!) ? `<${m[1]}>` : dashed(m[1]!);
    const given = unquote(m[2]!.trim());
    const choices = [...m[3]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((c) => c[1]!);
    const s = closest(given, choices);
    return fail(`${JSON.stringify(given)} is not a valid ${name} for ${where}; ${s ? `did you mean "${s}"? ` : ''}(choices: ${choices.join(', ')})`, { given, choices, ...(s ? { suggestion: s } : {}) });
  }

  if ((m = /^Not enough arguments following: (.+)$/.exec(msg))) {
    return fail(`${dashed(m[1]!)} needs a value (see ${help})`);
  }

  return fail(msg.replace(/\s*\n\s*/g, ' '));
}

/**
 * No command was named. A mistyped flag is the likelier problem when there is one (`snappy
 * --jsno`), so that is reported first.
 */
export function noCommandError(view: ParserView, args: readonly string[]): SnappyError {
  for (const a of args) {
    if (a === '--') break;
    if (!a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0]!;
    if (name && !view.flags.includes(name) && !view.flags.includes(name.replace(/^no-/, ''))) return usageError(`Unknown argument: ${name}`, view, args);
  }
  return new SnappyError(`name a command: ${view.topCommands.join(', ')} (see snappy --help)`, { code: ErrorCode.Usage });
}

/** Was `name` (as the parser reports it) given as a flag, rather than as a bare word? */
function isFlagInArgs(name: string, args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('--')) {
      const n = a.slice(2).split('=')[0]!;
      if (n === name || n === `no-${name}`) return true;
    } else if (a.startsWith('-') && a.length > 1 && name.length === 1 && a.slice(1).split('=')[0]!.includes(name)) return true;
  }
  return false;
}

/** Positional names of a usage line; with `requiredOnly`, only the `<x>` ones. */
function positionalsOf(usage: string | undefined, requiredOnly = false): string[] {
  if (!usage) return [];
  const re = requiredOnly ? /<([^>.]+)(?:\.\.)?>/g : /[<[]([^>\].]+)(?:\.\.)?[>\]]/g;
  return [...usage.matchAll(re)].map((x) => x[1]!);
}

function dashed(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

function unquote(s: string): string {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : s;
  } catch {
    return s;
  }
}

function joinAnd(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
