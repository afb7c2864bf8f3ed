/**
 * The frontmatter of a skill page or brief: a `---` fenced block of `key: value` lines at the
 * top. Values are read as JSON when they look like JSON (numbers, booleans, null, quoted
 * strings, objects, arrays), else as plain strings. Nested YAML blocks are not supported; a
 * nested value is written as inline JSON, which YAML also reads.
 */
export interface Page {
  data: Record<string, unknown>;
  body: string;
  /** Whether the text had a frontmatter block at all. */
  hasFrontmatter: boolean;
}

const FENCE = /^---[ \t]*\r?\n/;

export function parsePage(text: string): Page {
  if (!FENCE.test(text)) return { data: {}, body: text, hasFrontmatter: false };
  const start = text.indexOf('\n') + 1;
  const end = /\r?\n---[ \t]*(\r?\n|$)/.exec(text.slice(start - 1));
  if (!end) return { data: {}, body: text, hasFrontmatter: false };
  const block = text.slice(start, start - 1 + end.index);
  const body = text.slice(start - 1 + end.index + end[0].length);
  const data: Record<string, unknown> = {};
  for (const raw of block.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const m = /^([A-Za-z0-9_.-]+)\s*:\s?(.*)$/.exec(line);
    if (!m) continue;
    data[m[1]!] = readValue(m[2]!.trim());
  }
  return { data, body, hasFrontmatter: true };
}

function readValue(v: string): unknown {
  if (v === '') return '';
  if (/^(-?\d|\{|\[|"|true$|false$|null$)/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      /* not JSON after all: a plain string */
    }
  }
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}

function writeValue(v: unknown): string {
  if (typeof v === 'string') {
    return /^[A-Za-z0-9_./@+-][A-Za-z0-9_ ./@+-]*$/.test(v) && !/^(true|false|null|-?\d)/.test(v) && !v.endsWith(' ') ? v : JSON.stringify(v);
  }
  return JSON.stringify(v ?? null);
}

/** Serialises a page; keys keep their insertion order. */
export function formatPage(data: Record<string, unknown>, body: string): string {
  const lines = Object.entries(data)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${writeValue(v)}`);
  return `---\n${lines.join('\n')}\n---\n${body.startsWith('\n') ? body.slice(1) : body}`;
}
