// A machine joining a tenant adopts the pages it never edited (a copy of a version the tenant's
// page had, a staged or canonical page, the example page snappy ships) and keeps only real
// local edits, with the remote's version beside them as `.incoming`. Pull and push say every
// `.incoming` they wrote or honoured.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, readTree, tenantOf, writeTree } from './fixtures.ts';

const KEY = 'join-tenant-key-3c9e1f7a5b2d8e4c6a0f';
const EXAMPLE = readFileSync(path.join(ROOT, 'state', 'skills', 'summarize.md'), 'utf8');

/** A tenant whose page `foo` went v1 -> v2 -> v3 on machine a1 (each version pushed). */
async function tenantWithHistory() {
  const remoteDir = path.join(tmpDir('snappy-join-'), 'r');
  const remote = `file://${remoteDir}`;
  const a1 = machine({ id: 'a1', key: KEY, remote });
  for (const v of ['foo v1\n', 'foo v2\n', 'foo v3\n']) {
    writeTree(a1.state, { 'skills/foo.md': v });
    const r = await a1.run(['run', 'push']);
    if (r.code !== 0) throw new Error(`setup: a1's push of ${v.trim()} failed: ${r.stderr}`);
  }
  return { remoteDir, remote, a1, tenant: await tenantOf(KEY) };
}

test("the push that replaces a tenant's page keeps the version it replaced in the page's history", async () => {
  const { remoteDir, tenant } = await tenantWithHistory();
  const history = JSON.parse(readTree(remoteDir)[`snappy-tenants/${tenant}/history/foo.json`]!);
  const { contentHash } = await import('../../../plugins/sync/manifest.ts');
  assert.equal(history, { v: 1, skill: 'foo', hashes: [contentHash(Buffer.from('foo v1\n')), contentHash(Buffer.from('foo v2\n'))] });
});

test('a joining machine with a copy of an earlier version adopts the current page: no .incoming, nothing held back from push', async () => {
  const { remote, remoteDir, tenant } = await tenantWithHistory();
  const a2 = machine({ id: 'a2', key: KEY, remote });
  writeTree(a2.state, { 'skills/foo.md': 'foo v1\n' });
  const { res, out } = await a2.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md'), 'utf8'), 'foo v3\n');
  assert.not.ok(existsSync(path.join(a2.state, 'skills/foo.md.incoming')));
  assert.equal([out.reports.pull.adopted, out.reports.pull.conflicts, out.reports.pull.incoming], [['skills/foo.md'], [], []]);
  assert.match(res.stderr, 'updated skills/foo.md to the remote\'s version: it held no edit made on this machine');
  const push = await a2.json(['run', 'push']);
  assert.equal([push.out.reports.push.files, push.out.reports.push.blocked], [0, []]);
  assert.is(readTree(remoteDir)[`snappy-tenants/${tenant}/skills/foo.md`], 'foo v3\n');
});

test('a joining machine with the example page snappy ships adopts the tenant\'s page, though the tenant never had the example', async () => {
  const remoteDir = path.join(tmpDir('snappy-join-'), 'r');
  const a1 = machine({ id: 'a1', key: KEY, remote: `file://${remoteDir}` });
  writeTree(a1.state, { 'skills/summarize.md': 'the tenant\'s own summarize page\n' });
  assert.is((await a1.run(['run', 'push'])).code, 0);
  const a2 = machine({ id: 'a2', key: KEY, remote: `file://${remoteDir}` });
  writeTree(a2.state, { 'skills/summarize.md': EXAMPLE });
  const { res, out } = await a2.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.equal(out.reports.pull.adopted, ['skills/summarize.md']);
  assert.is(readFileSync(path.join(a2.state, 'skills/summarize.md'), 'utf8'), 'the tenant\'s own summarize page\n');
});

test('a machine set up with snappy init adopts the example page as the tenant edited it on a machine set up the same way', async () => {
  const remoteDir = path.join(tmpDir('snappy-join-'), 'r');
  const remote = `file://${remoteDir}`;
  const setUp = async (id: string) => {
    const dir = path.join(tmpDir('snappy-join-'), id);
    const r = await runCli(['init', dir], { env: { SNAPPY_MACHINE_ID: id, SNAPPY_MASTER_KEY: KEY } });
    assert.is(r.code, 0, r.stderr);
    return machine({ id, key: KEY, remote, dir });
  };
  const a1 = await setUp('a1');
  const page = path.join(a1.state, 'skills/example.md');
  const edited = `${readFileSync(page, 'utf8')}\nAlways name the deadline first.\n`;
  writeFileSync(page, edited);
  assert.is((await a1.run(['run', 'push'])).code, 0);
  const a2 = await setUp('a2');
  const { res, out } = await a2.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.equal([out.reports.pull.adopted, out.reports.pull.conflicts, out.reports.pull.incoming], [['skills/example.md'], [], []]);
  assert.is(readFileSync(path.join(a2.state, 'skills/example.md'), 'utf8'), edited);
});

test('a real local edit on a joining machine is kept; pull says which .incoming it wrote, push says which it honours', async () => {
  const { remote, remoteDir, tenant } = await tenantWithHistory();
  const a2 = machine({ id: 'a2', key: KEY, remote });
  writeTree(a2.state, { 'skills/foo.md': 'foo as a2 wrote it\n' });
  const pull = await a2.run(['run', 'pull']);
  assert.is(pull.code, 0, pull.stderr);
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md'), 'utf8'), 'foo as a2 wrote it\n');
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md.incoming'), 'utf8'), 'foo v3\n');
  assert.match(pull.stdout, /^pulled 1 file \(\d+ B\) from .*, wrote 1 \.incoming \(skills\/foo\.md\.incoming\) in \d+ ms$/m);
  assert.match(pull.stderr, 'kept your edit of skills/foo.md; the remote\'s version is beside it as skills/foo.md.incoming');
  const push = await a2.run(['run', 'push']);
  assert.is(push.code, 0, push.stderr);
  assert.match(push.stderr, 'not pushed: skills/foo.md has an unresolved skills/foo.md.incoming beside it');
  assert.match(push.stdout, /^pushed 0 files \(0 B\) to .*, 1 not pushed: unresolved \.incoming \(skills\/foo\.md\.incoming\) in \d+ ms$/m);
  const j = await a2.json(['run', 'push']);
  assert.equal([j.out.reports.push.blocked, j.out.reports.push.incoming], [['skills/foo.md'], ['skills/foo.md.incoming']]);
  assert.is(readTree(remoteDir)[`snappy-tenants/${tenant}/skills/foo.md`], 'foo v3\n', 'the edit waits for the merge');
  // A pull with nothing new writes no .incoming again, and says none.
  const again = await a2.json(['run', 'pull']);
  assert.equal(again.out.reports.pull.incoming, []);

  // The user drops the edit, going back to a version the tenant had: the next pull adopts the
  // page and removes the .incoming, which now holds nothing that is not the page's.
  writeFileSync(path.join(a2.state, 'skills/foo.md'), 'foo v2\n');
  const settled = await a2.json(['run', 'pull']);
  assert.equal([settled.out.reports.pull.adopted, settled.out.reports.pull.cleared], [['skills/foo.md'], ['skills/foo.md.incoming']]);
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md'), 'utf8'), 'foo v3\n');
  assert.not.ok(existsSync(path.join(a2.state, 'skills/foo.md.incoming')));
});

test('a promoted canonical page replaces the example page of a machine that never synced it (no master key, no record)', async () => {
  const remoteDir = path.join(tmpDir('snappy-join-'), 'r');
  writeTree(remoteDir, { 'snappy-os/skills/summarize/summarize.md': 'the promoted summarize page\n' });
  const m = machine({ id: 'n1', remote: `file://${remoteDir}` });
  writeTree(m.state, { 'skills/summarize.md': EXAMPLE, 'skills/mine.md': 'written here\n' });
  writeTree(remoteDir, { 'snappy-os/skills/mine/mine.md': 'a promoted page of mine\n' });
  const { res, out } = await m.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.equal(out.reports.pull.adopted, ['skills/summarize.md']);
  assert.is(readFileSync(path.join(m.state, 'skills/summarize.md'), 'utf8'), 'the promoted summarize page\n');
  assert.equal([out.reports.pull.conflicts, out.reports.pull.incoming], [['skills/mine.md'], ['skills/mine.md.incoming']], 'a page written here is kept');
  assert.is(readFileSync(path.join(m.state, 'skills/mine.md'), 'utf8'), 'written here\n');
});

test.run();
