import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatPage, parsePage, setFields } from '../../domain/frontmatter.ts';

const PAGE = [
  '---',
  'name: triage',
  'description: >',
  '  Sorts incoming tickets',
  '  by urgency.',
  'tags:',
  '  - support',
  '  - inbox',
  'manual_review: robert # asks for a second pair of eyes',
  'notes: |',
  '  line one',
  '  line two',
  'limits: { max: 3, unit: "tickets" }',
  'since: 2026-11-30',
  'flag: yes',
  '---',
  '# Triage',
  '',
  'Body text: with a colon.',
  '',
].join('\n');

test('a description: > block, a tags: list and a trailing # comment read as YAML means them', () => {
  const p = parsePage(PAGE);
  assert.is(p.hasFrontmatter, true);
  assert.is(p.error, undefined);
  assert.is(p.data.description, 'Sorts incoming tickets by urgency.\n');
  assert.equal(p.data.tags, ['support', 'inbox']);
  assert.is(p.data.manual_review, 'robert', 'the comment is not part of the name');
  assert.is(p.data.notes, 'line one\nline two\n');
  assert.equal(p.data.limits, { max: 3, unit: 'tickets' });
  assert.is(p.data.since, '2026-11-30', 'YAML 1.2: a date stays the text it was');
  assert.is(p.data.flag, 'yes', 'YAML 1.2: yes is a word, not a boolean');
  assert.is(p.body, '# Triage\n\nBody text: with a colon.\n');
});

test('setFields changes the keys it is given and keeps everything else as written, comments and body included', () => {
  const out = setFields(PAGE, { base_rev: '0123456789ab', name: 'triage-2' });
  assert.ok(out.includes('description: >\n'), out);
  assert.ok(out.includes('  - support\n  - inbox\n'));
  assert.ok(out.includes('manual_review: robert # asks for a second pair of eyes\n'));
  assert.ok(out.includes('notes: |\n'));
  assert.ok(out.endsWith('---\n# Triage\n\nBody text: with a colon.\n'), 'the body is untouched');
  const p = parsePage(out);
  assert.is(p.data.base_rev, '0123456789ab');
  assert.is(p.data.name, 'triage-2');
  assert.equal(Object.keys(p.data), ['name', 'description', 'tags', 'manual_review', 'notes', 'limits', 'since', 'flag', 'base_rev'], 'keys keep their order; new ones come last');
  const { base_rev: _b, name: _n, ...rest } = p.data;
  const { name: _n0, ...before } = parsePage(PAGE).data;
  assert.equal(rest, before, 'every other value reads back the same');
  assert.is(parsePage(setFields(out, { base_rev: undefined })).data.base_rev, undefined, 'undefined removes a key');
});

test('formatPage writes what parsePage reads back: nested values, nulls, strings that look like other things', () => {
  const data = { skill: 'triage', base_rev: null, created: '2026-11-30T10:00:00.000Z', flag: 'true', num: '007', colon: 'a: b', hash: 'x # y', long: 'w '.repeat(200).trim(), local: { runs: 3, mean: null, q: [0.5, 0.75] }, n: 0.25 };
  const text = formatPage(data, '\n# Brief\n');
  const p = parsePage(text);
  assert.equal(p.data, data);
  assert.is(p.body, '# Brief\n');
  assert.ok(text.split('\n').some((l) => l.startsWith('long: ') && l.length > 390), 'long values stay on one line');
  assert.is(parsePage(formatPage({}, 'x\n')).hasFrontmatter, true);
});

test('a block that is not YAML, or not a mapping, is reported with its line; the body is still found', () => {
  const bad = parsePage('---\nname: a\ntitle: Summarize: things\n---\nBody.\n');
  assert.is(bad.hasFrontmatter, true);
  assert.equal(bad.data, {});
  assert.match(bad.error ?? '', /^frontmatter is not valid YAML \(line 3 of the page\)/);
  assert.is(bad.body, 'Body.\n');
  assert.match(parsePage('---\nk: 1\nk: 2\n---\nB\n').error ?? '', /unique/);
  assert.is(parsePage('---\n- a\n- b\n---\nB\n').error, 'frontmatter is not a mapping of keys to values');
  assert.throws(() => setFields('---\nk: [1\n---\nB\n', { x: 1 }), /not valid YAML/);
});

test('no block: no frontmatter, and setFields adds one in front of the text', () => {
  assert.equal(parsePage('# Just a page\n'), { data: {}, body: '# Just a page\n', hasFrontmatter: false });
  assert.equal(parsePage('---\nno closing fence\n'), { data: {}, body: '---\nno closing fence\n', hasFrontmatter: false });
  const added = setFields('# Page\n', { base_rev: null });
  assert.equal(parsePage(added), { data: { base_rev: null }, body: '# Page\n', hasFrontmatter: true });
  assert.equal(parsePage('---\n---\nEmpty block.\n'), { data: {}, body: 'Empty block.\n', hasFrontmatter: true });
  assert.is(parsePage(setFields('---\n---\nB\n', { a: 1 })).data.a, 1);
});

test.run();
