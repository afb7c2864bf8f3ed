import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GlobList } from '../../../domain/glob.ts';
import { isHardDenied } from '../../../domain/state-layout.ts';
import { DEFAULT_ALLOW } from '../../../plugins/sync/options.ts';
import { aggregateBatchTenant, isSafeRel, pullTarget, pushTarget, SyncFilter } from '../../../plugins/sync/paths.ts';

const who = { machine: 'm1', tenant: 'abcdefabcdef' };
const filter = (allow: string[] = [...DEFAULT_ALLOW], deny: string[] = []) => new SyncFilter(new GlobList(allow), new GlobList(deny));

test('globs: * stays in a segment, ** crosses segments, {a,b} alternates, a trailing / means the folder', () => {
  const m = (glob: string, p: string) => new GlobList([glob]).matches(p);
  assert.ok(m('skills/*.md', 'skills/a.md'));
  assert.not.ok(m('skills/*.md', 'skills/x/a.md'));
  assert.ok(m('staging/**', 'staging/s/0123456789ab/s.md'));
  assert.ok(m('**/*.md', 'a.md'));
  assert.ok(m('**/*.md', 'x/y/a.md'));
  assert.ok(m('log/{a,b}.txt', 'log/b.txt'));
  assert.ok(m('notes/', 'notes/deep/x'));
  assert.not.ok(m('skills/a.md', 'skills/aXmd'), 'a dot matched any character');
});

test('sync lists take the whole glob dialect: braces of globs, classes, negation', () => {
  const f = filter(['skills/{*.md,*.txt}', 'notes/**'], ['notes/**', '!notes/[ab].md']);
  assert.ok(f.allows('skills/a.md') && f.allows('skills/a.txt'), 'skills/{*.md,*.txt} matches both kinds');
  assert.not.ok(f.allows('skills/a.js'));
  assert.not.ok(f.allows('skills/a.md.txt/x'));
  assert.ok(f.allows('notes/a.md'), 'deny notes/** but !notes/[ab].md keeps notes/a.md and notes/b.md');
  assert.not.ok(f.allows('notes/c.md'));
  const g = filter(['notes/[ab].md', 'skills/*.md', '!skills/draft-*.md']);
  assert.ok(g.allows('notes/a.md') && g.allows('notes/b.md'));
  assert.not.ok(g.allows('notes/c.md'), '[ab] is a class of two characters');
  assert.ok(g.allows('skills/x.md'));
  assert.not.ok(g.allows('skills/draft-x.md'), 'a ! pattern takes its paths out of the list');
});

test('the default allow list is the contract\'s (docs/contract.md §4); deny beats allow; the hard deny beats both, even allow **', () => {
  const f = filter();
  for (const p of ['skills/a.md', 'log/evals.aggregate.ndjson', 'log/regen-queue/a.m1.md', 'staging/a/0123456789ab/a.md']) assert.ok(f.allows(p), p);
  for (const p of ['log/evals.ndjson', 'ready/a.ready', '.snappy/lock', 'notes/x.md', 'canonical/a/a.md']) assert.not.ok(f.allows(p), p);
  const all = filter(['**'], ['skills/secret-*.md']);
  for (const p of ['log/evals.ndjson', 'ready/a.ready', '.snappy/sync/x.json', 'skills/secret-1.md', '../x', 'a/../log/evals.ndjson', '/etc/passwd', 'a//b']) {
    assert.not.ok(all.allows(p), `${p} allowed`);
  }
  assert.ok(all.allows('notes/x.md'));
});

test('the hard deny covers the raw log under every name its copies get, and nothing it should not', () => {
  const all = filter(['**'], []);
  const copies = [
    'log/evals.ndjson', 'log/evals.ndjson.1', 'log/evals.ndjson.2.gz', 'log/evals.ndjson.gz', 'log/evals.ndjson-20261130', 'log/evals.ndjson-20261130.gz',
    'log/evals.ndjson.bak', 'log/evals.ndjson.old', 'log/evals.ndjson~', 'log/evals.ndjson.orig', 'log/evals.ndjson.save', 'log/evals.ndjson.tmp',
    'log/evals-20261130.ndjson', 'log/evals.1.ndjson', 'log/.evals.ndjson.swp', 'log/#evals.ndjson#', 'log/EVALS.NDJSON', './log/evals.ndjson.1',
    'log/old/evals.ndjson', 'backup/evals.ndjson.1', 'notes/evals.ndjson', 'log/evals.ndjson/part-1',
  ];
  for (const p of copies) {
    assert.ok(isHardDenied(p), `${p} is not hard-denied`);
    assert.not.ok(all.allows(p), `${p} allowed by allow: ['**']`);
    assert.is(pushTarget(p, who), null, `${p} has a push key`);
  }
  for (const p of ['log/evals.aggregate.ndjson', 'log/regen-queue/evals.m1.md', 'skills/evals.md', 'notes/evaluation.md', 'staging/evals/0123456789ab/evals.md']) {
    assert.not.ok(isHardDenied(p), `${p} is hard-denied`);
  }
  assert.ok(filter().allows('log/evals.aggregate.ndjson'), 'the aggregate stays allowed');
});

test('paths map to documented keys; invalid names, other machines\' briefs and canonical do not push', () => {
  assert.equal(pushTarget('skills/foo.md', who), { key: 'snappy-tenants/abcdefabcdef/skills/foo.md', kind: 'page', createOnly: false });
  assert.equal(pushTarget('log/regen-queue/foo.bar.m1.md', who), { key: 'snappy-briefs/abcdefabcdef/foo.bar.m1.md', kind: 'brief', createOnly: false });
  assert.is(pushTarget('log/regen-queue/foo.m1.md', { machine: 'm1' }), null, 'briefs need a tenant');
  assert.equal(pushTarget('staging/foo/0123456789ab/foo.md', who), { key: 'snappy-os-staging/foo/0123456789ab/foo.md', kind: 'staged', createOnly: true });
  assert.equal(pushTarget('notes/a.md', who)?.key, 'snappy-tenants/abcdefabcdef/files/notes/a.md');
  assert.is(pushTarget('log/regen-queue/foo.m2.md', who), null);
  assert.is(pushTarget('staging/foo/not-a-rev/foo.md', who), null);
  assert.is(pushTarget('staging/.hidden/0123456789ab/x.md', who), null);
  assert.is(pushTarget('skills/-bad.md', who)?.kind, 'file', 'an invalid skill name is not a page');
  assert.is(pushTarget('canonical/foo/foo.md', who), null);
  assert.is(pushTarget('skills/foo.md.incoming', who), null);
  assert.is(pushTarget('skills/foo.md', { machine: 'm1' }), null, 'pages need a tenant');
});

test('remote keys map back only to safe local paths', () => {
  assert.equal(pullTarget('snappy-tenants/abcdefabcdef/skills/foo.md', who), { rel: 'skills/foo.md', kind: 'page' });
  assert.equal(pullTarget('snappy-briefs/abcdefabcdef/foo.m2.md', who), { rel: 'log/regen-queue/foo.m2.md', kind: 'brief' });
  assert.equal(pullTarget('snappy-briefs/ffffffffffff/foo.m3.md', who), { rel: 'log/regen-queue/foo.m3.md', kind: 'brief' }, "other tenants' briefs");
  assert.is(pullTarget('snappy-briefs/abcdefabcdef/foo.m1.md', who), null, 'own briefs are written here, not pulled');
  assert.is(pullTarget('snappy-briefs/ffffffffffff/foo.m1.md', who), null, 'a brief under our own local name is never pulled');
  assert.is(pullTarget('snappy-briefs/foo.m2.md', who), null, 'a brief key without a tenant');
  assert.is(pullTarget('snappy-briefs/not-a-tenant/foo.m2.md', who), null);
  assert.equal(pullTarget('snappy-os/skills/foo/foo.md', who), { rel: 'canonical/foo/foo.md', kind: 'canonical' });
  assert.is(pullTarget('snappy-tenants/abcdefabcdef/files/log/evals.ndjson', who), null);
  assert.is(pullTarget('snappy-tenants/abcdefabcdef/files/.snappy/lock', who), null);
  assert.is(pullTarget('snappy-tenants/ffffffffffff/skills/foo.md', who), null, 'another tenant\'s pages');
  assert.is(pullTarget('snappy-os-staging/foo/0123456789ab/../../x', who), null);
  assert.is(pullTarget('snappy-os/skills/../x/y', who), null);
  assert.is(pullTarget('snappy-briefs/../x.md', who), null);
  assert.is(pullTarget('snappy-briefs/abcdefabcdef/../x.md', who), null);
  assert.is(aggregateBatchTenant('snappy-agg/abcdefabcdef/0123456789abcdef.ndjson'), 'abcdefabcdef');
  assert.is(aggregateBatchTenant('snappy-agg/abcdefabcdef/x.ndjson'), null);
  assert.not.ok(isSafeRel('a/./b'));
});

test.run();
