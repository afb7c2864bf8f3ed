import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, readTree, revOf, tenantOf, writeTree, type Machine } from './fixtures.ts';

const REV = revOf('staged foo\n');

/**
 * A fresh remote and three machines (two of tenant a, one of tenant b), a1 with a state dir
 * to push: every test builds its own, so none depends on what another left behind.
 */
async function world() {
  const remoteDir = path.join(tmpDir('snappy-remote-'), 'r');
  const remote = `file://${remoteDir}`;
  const a1 = machine({ id: 'a1', key: 'tenant-a-key', remote });
  const a2 = machine({ id: 'a2', key: 'tenant-a-key', remote });
  const b1 = machine({ id: 'b1', key: 'tenant-b-key', remote });
  writeTree(a1.state, {
    'skills/foo.md': '---\nname: foo\n---\nfoo v1\n',
    'skills/bar.md': 'bar v1\n',
    'log/evals.ndjson': '{"ts":1,"skill":"foo","score":1,"run_id":"r","ok":true,"secret":"x"}\n',
    'log/regen-queue/foo.a1.md': 'brief of a1\n',
    'log/regen-queue/foo.zz.md': 'a brief pulled from machine zz earlier\n',
    [`staging/foo/${REV}/foo.md`]: 'staged foo\n',
    'ready/foo.ready': '{}',
    'notes/private.md': 'not in the allow list\n',
  });
  return { remoteDir, remote, a1, a2, b1, ta: await tenantOf('tenant-a-key') };
}

/** Runs a step a test builds on; a failure there names the step. */
async function step(m: Machine, args: string[], what: string): Promise<void> {
  const r = await m.run(args);
  if (r.code !== 0) throw new Error(`setup step "${what}" (snappy ${args.join(' ')}) exited ${r.code}: ${r.stderr}`);
}

test('push sends pages, own briefs and own staged revs to their documented keys, and nothing else', async () => {
  const { a1, remoteDir, ta } = await world();
  const { res, out } = await a1.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.files, 4);
  const objects = readTree(remoteDir);
  assert.equal(Object.keys(objects).sort(), [`snappy-briefs/${ta}/foo.a1.md`, `snappy-manifests/foo/${REV}.json`, `snappy-os-staging/foo/${REV}/foo.md`, `snappy-tenants/${ta}/skills/bar.md`, `snappy-tenants/${ta}/skills/foo.md`]);
  assert.is(objects[`snappy-tenants/${ta}/skills/foo.md`], '---\nname: foo\n---\nfoo v1\n');
});

test('a second push with nothing changed sends nothing', async () => {
  const { a1 } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  const { res, out } = await a1.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.files, 0);
  assert.is(out.reports.push.unchanged, 4);
});

test('a touched but unchanged file is not sent; an edited one is, alone', async () => {
  const { a1, remoteDir, ta } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  const later = new Date(Date.now() + 5000);
  utimesSync(path.join(a1.state, 'skills/bar.md'), later, later);
  writeFileSync(path.join(a1.state, 'skills/foo.md'), 'foo v2\n');
  const { res, out } = await a1.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.files, 1);
  assert.is(readTree(remoteDir)[`snappy-tenants/${ta}/skills/foo.md`], 'foo v2\n');
});

test('pull on another machine of the tenant brings its pages, the briefs and the staged revs', async () => {
  const { a1, a2 } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  const { res, out } = await a2.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md'), 'utf8'), '---\nname: foo\n---\nfoo v1\n');
  assert.is(readFileSync(path.join(a2.state, 'log/regen-queue/foo.a1.md'), 'utf8'), 'brief of a1\n');
  assert.is(readFileSync(path.join(a2.state, `staging/foo/${REV}/foo.md`), 'utf8'), 'staged foo\n');
  assert.is(out.reports.pull.files, 4);
  const again = await a2.json(['run', 'pull']);
  assert.is(again.out.reports.pull.files, 0, 'a second pull fetched again');
});

test('pulled staged revs and other machines\' briefs are not pushed back', async () => {
  const { a1, a2 } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  await step(a2, ['run', 'pull'], 'a2 pulls');
  const { res, out } = await a2.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.files, 0);
});

test('another tenant gets briefs and staged revs but never the tenant\'s own pages', async () => {
  const { a1, b1 } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  const { res } = await b1.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.ok(!existsSync(path.join(b1.state, 'skills/foo.md')));
  assert.ok(existsSync(path.join(b1.state, 'log/regen-queue/foo.a1.md')));
  assert.ok(existsSync(path.join(b1.state, `staging/foo/${REV}/foo.md`)));
});

test('a local edit is never overwritten by a pull: both are kept, and push waits for the merge', async () => {
  const { a1, a2, remoteDir, ta } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  await step(a2, ['run', 'pull'], 'a2 pulls');
  writeFileSync(path.join(a1.state, 'skills/bar.md'), 'bar edited on a1\n');
  writeFileSync(path.join(a2.state, 'skills/bar.md'), 'bar edited on a2\n');
  assert.is((await a2.run(['run', 'push'])).code, 0);
  const pulled = await a1.json(['run', 'pull']);
  assert.is(pulled.res.code, 0, pulled.res.stderr);
  assert.is(readFileSync(path.join(a1.state, 'skills/bar.md'), 'utf8'), 'bar edited on a1\n');
  assert.is(readFileSync(path.join(a1.state, 'skills/bar.md.incoming'), 'utf8'), 'bar edited on a2\n');
  assert.equal(pulled.out.reports.pull.conflicts, ['skills/bar.md']);
  assert.match(pulled.res.stderr, /kept your edit of skills\/bar\.md/);
  const blocked = await a1.json(['run', 'push']);
  assert.equal(blocked.out.reports.push.blocked, ['skills/bar.md']);
  assert.is(readTree(remoteDir)[`snappy-tenants/${ta}/skills/bar.md`], 'bar edited on a2\n');
  // Resolved: the merged page replaces exactly the version that was shown.
  writeFileSync(path.join(a1.state, 'skills/bar.md'), 'bar merged\n');
  (await import('node:fs')).rmSync(path.join(a1.state, 'skills/bar.md.incoming'));
  const after = await a1.json(['run', 'push']);
  assert.is(after.out.reports.push.files, 1, after.res.stderr);
  assert.is(readTree(remoteDir)[`snappy-tenants/${ta}/skills/bar.md`], 'bar merged\n');
});

test('push refuses to overwrite a remote page it has not seen', async () => {
  const { a1, a2, remoteDir, ta } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  await step(a2, ['run', 'pull'], 'a2 pulls');
  writeFileSync(path.join(a1.state, 'skills/foo.md'), 'foo v3\n');
  assert.is((await a1.run(['run', 'push'])).code, 0);
  writeFileSync(path.join(a2.state, 'skills/foo.md'), 'foo from a2 without pulling\n');
  const { res, out } = await a2.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.conflicts.length, 1);
  assert.match(res.stderr, /run `snappy run pull`/);
  assert.is(readTree(remoteDir)[`snappy-tenants/${ta}/skills/foo.md`], 'foo v3\n');
});

test('pull mirrors canonical pages and adopts a promoted page when the local one is unchanged since the last sync', async () => {
  const { a1, a2, remoteDir } = await world();
  await step(a1, ['run', 'push'], 'a1 pushes');
  await step(a2, ['run', 'pull'], 'a2 pulls');
  writeFileSync(path.join(a2.state, 'skills/foo.md'), 'foo from a2 without pulling\n');
  writeTree(remoteDir, { 'snappy-os/skills/foo/foo.md': 'canonical foo\n', 'snappy-os/skills/foo/extra.txt': 'x\n' });
  const { res, out } = await a1.json(['run', 'pull']);
  assert.is(res.code, 0, res.stderr);
  assert.is(readFileSync(path.join(a1.state, 'canonical/foo/foo.md'), 'utf8'), 'canonical foo\n');
  assert.equal(out.reports.pull.adopted, ['skills/foo.md']);
  assert.is(readFileSync(path.join(a1.state, 'skills/foo.md'), 'utf8'), 'canonical foo\n');
  // a2 edited its page: it keeps it and gets the canonical one beside it.
  const a2pull = await a2.json(['run', 'pull']);
  assert.ok(a2pull.out.reports.pull.conflicts.includes('skills/foo.md'), JSON.stringify(a2pull.out.reports.pull));
  assert.is(readFileSync(path.join(a2.state, 'skills/foo.md'), 'utf8'), 'foo from a2 without pulling\n');
  // The next promotion replaces the folder: stale files go.
  (await import('node:fs')).rmSync(path.join(remoteDir, 'snappy-os/skills/foo/extra.txt'));
  const again = await a1.json(['run', 'pull']);
  assert.equal(again.out.reports.pull.removed, ['canonical/foo/extra.txt']);
  assert.ok(!existsSync(path.join(a1.state, 'canonical/foo/extra.txt')));
});

test('--dry-run prints the plan and changes nothing, not even the manifest', async () => {
  const m = machine({ id: 'd1', key: 'tenant-d-key', remote: `file://${path.join(tmpDir(), 'r')}` });
  writeTree(m.state, { 'skills/x.md': 'x\n' });
  const res = await m.run(['run', 'push', '--dry-run']);
  assert.is(res.code, 0, res.stderr);
  assert.match(res.stdout, /would push skills\/x\.md -> snappy-tenants\/[0-9a-f]{12}\/skills\/x\.md/);
  assert.ok(!existsSync(path.join(m.state, '.snappy/sync')), 'dry run wrote a manifest');
  assert.is(Object.keys(readTree(path.dirname(m.state))).filter((k) => k.includes('/r/')).length, 0);
});

test('bad sync options are refused naming the option', async () => {
  const dir = tmpDir();
  const cfg = path.join(dir, 'c.json');
  writeFileSync(cfg, JSON.stringify({ builtins: ['sync'], sync: { concurrency: 0, allow: 'skills' } }));
  const m = machine({ id: 'c1', key: 'k', remote: `file://${path.join(dir, 'r')}`, config: cfg, dir });
  const res = await m.run(['run', 'push']);
  assert.is(res.code, 2);
  assert.match(res.stderr, /sync\.concurrency/);
  assert.match(res.stderr, /sync\.allow/);
});

test.run();
