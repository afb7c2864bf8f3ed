import { parsePage, setFields } from '../../domain/frontmatter.ts';

/** A page an agent produced, ready to stage; or why it is not one. */
export type NewPage = { ok: true; text: string } | { ok: false; reason: string };

/**
 * Checks what an agent printed and turns it into the revision's bytes: a page must have a
 * frontmatter block and a body. `base_rev` is set to the page it was made from, and a
 * `manual_review` gate on the current page is carried over when the agent dropped it (an
 * agent must not be able to lift the gate by rewriting the page).
 */
export function toRevision(printed: string, baseRev: string | null, current: string | null): NewPage {
  let text = printed.replace(/^\uFEFF/, '');
  if (text.trim() === '') return { ok: false, reason: 'the regen agent printed nothing' };
  // Language-model CLIs often wrap their answer in one ```markdown fence: take what is inside.
  const wrapped = /^\s*(`{3,})[a-zA-Z]*\r?\n([\s\S]*?)\r?\n\1\s*$/.exec(text);
  if (wrapped) text = `${wrapped[2]}\n`;
  text = text.replace(/^\s*\n/, '');
  const page = parsePage(text);
  if (!page.hasFrontmatter) {
    const first = JSON.stringify(text.split('\n', 1)[0]!.slice(0, 80));
    return { ok: false, reason: `the regen agent printed text that is not a skill page: no frontmatter block (a '---' line, key: value lines, a '---' line) at the top; its first line is ${first}` };
  }
  if (page.error) return { ok: false, reason: `the regen agent printed a page whose ${page.error}` };
  if (page.body.trim() === '') return { ok: false, reason: 'the regen agent printed a frontmatter block with an empty body' };
  const fields: Record<string, unknown> = {};
  if (page.data.manual_review === undefined && current !== null) {
    const gate = parsePage(current).data.manual_review;
    if (gate !== undefined && gate !== null && gate !== '' && gate !== false) fields.manual_review = gate;
  }
  fields.base_rev = baseRev;
  // The agent's own frontmatter is kept as written (block scalars, lists, comments).
  const out = setFields(text, fields);
  return { ok: true, text: out.endsWith('\n') ? out : `${out}\n` };
}
