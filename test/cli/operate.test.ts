// The operator's day in direct mode, through real CLI processes on a file remote: the diff an
// approval is made against (and a stale one refused), and `snappy doctor` passing, then failing
// with the fix named, on a machine that is set up right and on one that is not.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Remote } from '../../domain/layout.ts';
import { STATE } from '../../domain/versions.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fileRemote, stageRev, text } from '../plugins/quorum/fleet.ts';

const KEY = 'Zx3kR9vQ2mT7wL5pN8cJ4hB6fD1sG0aY_-qwertyuOPas';

function place() {
  const dir = tmpDir('snappy-operate-');
  const remote = path.join(dir, 'remote');
  mkdirSync(remote);
  writeFileSync(path.join(dir, 'snappy.config.json'), JSON.stringify({}));
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const run = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli([...args, '--state', state, '--remote', `file://${remote}`], { cwd: dir, env: { SNAPPY_MASTER_KEY: KEY, USER: 'robert', ...env } });
  return { dir, state, blobs: fileRemote(remote), run };
}

const json = (r: { stdout: string }) => JSON.parse(r.stdout);

test('ops diff shows the rev against the canonical it would replace; approve --diff promotes only that change and records it; a stale diff is refused', async () => {
  const f = place();
  const first = await stageRev(f.blobs, 'deploy', '---\nmodel: small\n---\nDeploy by hand.\n');
  const a = await f.run(['ops', 'approve', 'deploy', first, '--json']);
  assert.is(a.code, 0, a.stderr);
  const recorded = JSON.parse((await text(f.blobs, Remote.approval('deploy', first)))!);
  assert.equal([recorded.by, recorded.shown, recorded.against], ['robert', false, null], 'approved without a diff named: recorded as such');

  const next = await stageRev(f.blobs, 'deploy', '---\nmodel: large\nmanual_review: ops\n---\nDeploy with checks.\n', { 'notes.md': 'why\n' });
  const d = await f.run(['ops', 'diff', 'deploy', next, '--json']);
  assert.is(d.code, 0, d.stderr);
  const diff = json(d);
  assert.is(diff.canonicalRev, first);
  assert.match(diff.diffId, /^[0-9a-f]{16}$/);
  assert.equal(diff.frontmatter, [{ key: 'manual_review', change: 'added', to: 'ops' }, { key: 'model', change: 'changed', from: 'small', to: 'large' }]);
  assert.equal(diff.files.map((x: { name: string; change: string }) => `${x.name} ${x.change}`), ['deploy.md changed', 'notes.md added']);
  assert.match(diff.text, `--- canonical/deploy/deploy.md\n+++ staged/deploy/${next}/deploy.md`);
  assert.match(diff.text, '-Deploy by hand.\n+Deploy with checks.');
  const human = await f.run(['ops', 'diff', 'deploy', next]);
  assert.is(human.code, 0, human.stderr);
  assert.match(human.stdout, diff.diffId);
  assert.match(human.stdout, '+Deploy with checks.');

  const revs = await f.run(['ops', 'revs', '--diff', '--json']);
  assert.is(revs.code, 0, revs.stderr);
  assert.equal(Object.keys(json(revs).diffs), [`deploy:${next}`], 'only the rev an operator could still approve');
  assert.is(json(revs).diffs[`deploy:${next}`].diffId, diff.diffId, 'the same comparison, the same id');

  // Canonical moves after the operator looked: the diff shown no longer describes the change.
  const other = await stageRev(f.blobs, 'deploy', 'Deploy on Fridays.\n');
  assert.is((await f.run(['ops', 'approve', 'deploy', other])).code, 0);
  const stale = await f.run(['ops', 'approve', 'deploy', next, '--diff', diff.diffId, '--json']);
  assert.is(stale.code, 1, stale.stderr);
  assert.match(json(stale).error.message, `the diff shown (${diff.diffId}) is not the change any more`);
  assert.is(json(stale).error.code, 'E_QUORUM_STALE_DIFF');
  assert.is(await text(f.blobs, `${Remote.canonicalDir('deploy')}notes.md`), null, 'nothing promoted');
  const bad = await f.run(['ops', 'approve', 'deploy', next, '--diff', 'not-an-id']);
  assert.not.equal(bad.code, 0);
  assert.match(bad.stderr, 'expected the 16-hex diff id');

  const again = json(await f.run(['ops', 'diff', 'deploy', next, '--json']));
  assert.is(again.canonicalRev, other);
  assert.not.equal(again.diffId, diff.diffId);
  const ok = await f.run(['ops', 'approve', 'deploy', next, '--diff', again.diffId, '--json']);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(json(ok).promoted, true);
  assert.equal([json(ok).approval.diff, json(ok).approval.shown, json(ok).approval.against], [again.diffId, true, other]);
  assert.is(await text(f.blobs, `${Remote.canonicalDir('deploy')}notes.md`), 'why\n');
  const shown = json(await f.run(['ops', 'diff', 'deploy', next, '--json']));
  assert.is(shown.approval.diff, again.diffId, 'ops diff names the approval made against it');
});

test('snappy doctor: every check passes on a machine set up right (exit 0); a weak key and a state dir from a newer release each fail with their fix (exit 1, 2)', async () => {
  const f = place();
  const push = await f.run(['run', 'push', '--auto']);
  assert.is(push.code, 0, push.stderr);
  const good = await f.run(['doctor', '--json']);
  assert.is(good.code, 0, good.stderr);
  const out = json(good);
  assert.is(out.ok, true);
  const by = Object.fromEntries(out.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
  assert.equal([by.config, by.state, by['master-key'], by.remote, by.versions, by['last-push']], ['pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
  assert.is(by.clock, 'skip', 'direct mode signs nothing');
  assert.is(out.summary.fail, 0);
  assert.is(by.conflicts, 'pass');

  // A pull conflict waiting in a skill's folder fails its check, named; .snappy/ is never looked into.
  mkdirSync(path.join(f.state, 'skills', 'deep'), { recursive: true });
  writeFileSync(path.join(f.state, 'skills', 'deep', 'triage.md.incoming'), 'the remote version\n');
  writeFileSync(path.join(f.state, '.snappy', 'ignored.incoming'), 'never a conflict\n');
  const conflicted = await f.run(['doctor', '--json']);
  assert.is(conflicted.code, 1, conflicted.stderr);
  const c = json(conflicted).checks.find((x: { name: string }) => x.name === 'conflicts');
  assert.equal([c.status, c.message], ['fail', '1 file(s) with an unresolved pull conflict, not pushed until resolved: skills/deep/triage.md']);
  rmSync(path.join(f.state, 'skills', 'deep'), { recursive: true });

  const weak = await f.run(['doctor', '--json'], { SNAPPY_MASTER_KEY: 'hunter2hunter2' });
  assert.is(weak.code, 1, weak.stderr);
  const key = json(weak).checks.find((c: { name: string }) => c.name === 'master-key');
  assert.is(key.status, 'fail');
  assert.match(key.message, 'fewer than 128');
  assert.match(key.fix, 'Rotate a key');
  const human = await f.run(['doctor'], { SNAPPY_MASTER_KEY: 'hunter2hunter2' });
  assert.is(human.code, 1);
  assert.match(human.stdout, /FAIL\s+master-key/);

  writeFileSync(path.join(f.state, '.snappy/state.json'), JSON.stringify({ v: STATE + 1, release: '9.0.0' }));
  const newer = await f.run(['doctor', '--json']);
  assert.is(newer.code, 2, 'a state dir of a newer release is refused before any check');
  assert.is(json(newer).error.code, 'E_VERSION');
});

test.run();
