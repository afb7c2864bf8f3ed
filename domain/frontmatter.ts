import { isMap, parseDocument, stringify, type Document } from 'yaml';

/**
 * The frontmatter of a skill page or brief: a `---` fenced YAML block at the top, read and
 * written by the `yaml` package (YAML 1.2 core schema: `2026-11-30` stays a string, `yes`
 * stays a string). Folded and literal blocks, lists, nested maps, quoting and comments all
 * survive a round trip through `setFields`.
 */
export interface Page {
  /** The block as data; empty when there is no block or it is not valid YAML (see `error`). */
  data: Record<string, unknown>;
  body: string;
  /** Whether the text had a frontmatter block at all. */
  hasFrontmatter: boolean;
  /** Why the block could not be read (not YAML, or not a mapping), with its line; absent when it could. */
  error?: string;
}

const FENCE = /^---[ \t]*\r?\n/;

/** Options that keep what we write readable by any YAML reader and unfolded (briefs hold long lines). */
const WRITE = { lineWidth: 0, minContentWidth: 0 } as const;

interface Split {
  block: string;
  body: string;
}

function split(text: string): Split | null {
  if (!FENCE.test(text)) return null;
  const start = text.indexOf('\n') + 1;
  // The block may be empty: the closing fence then directly follows the opening one.
  const rest = text.slice(start);
  const end = /^---[ \t]*(\r?\n|$)/m.exec(rest);
  if (!end) return null;
  return { block: rest.slice(0, end.index), body: rest.slice(end.index + end[0].length) };
}

function readBlock(block: string): { doc: Document; error?: string } {
  const doc = parseDocument(block, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    // The block starts on the page's line 2.
    return { doc, error: `frontmatter is not valid YAML${line ? ` (line ${line + 1} of the page)` : ''}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` };
  }
  if (doc.contents !== null && !isMap(doc.contents)) return { doc, error: 'frontmatter is not a mapping of keys to values' };
  return { doc };
}

export function parsePage(text: string): Page {
  const parts = split(text);
  if (!parts) return { data: {}, body: text, hasFrontmatter: false };
  const { doc, error } = readBlock(parts.block);
  if (error) return { data: {}, body: parts.body, hasFrontmatter: true, error };
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  return { data, body: parts.body, hasFrontmatter: true };
}

/** Serialises a page; keys keep their insertion order. */
export function formatPage(data: Record<string, unknown>, body: string): string {
  const defined = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  const block = Object.keys(defined).length ? stringify(defined, WRITE) : '';
  return `---\n${block}---\n${body.startsWith('\n') ? body.slice(1) : body}`;
}

/**
 * Sets (or, for `undefined`, removes) keys in a page's frontmatter and leaves everything else
 * as it was written: other keys, their order and style, comments, and the body byte for byte.
 * A page without a block gets one. Throws when the block is not valid YAML.
 */
export function setFields(text: string, fields: Record<string, unknown>): string {
  const parts = split(text);
  if (!parts) return formatPage(fields, text);
  const { doc, error } = readBlock(parts.block);
  if (error) throw new Error(error);
  if (doc.contents === null) return formatPage(fields, parts.body);
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) doc.delete(k);
    else doc.set(k, doc.createNode(v));
  }
  return `---\n${doc.toString(WRITE)}---\n${parts.body}`;
}
