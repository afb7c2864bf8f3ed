// A staged rev waits for evaluation on a machine only until the machine learns, at a pull,
// that it was promoted, rejected or quarantined (plugins/sync/fates.ts); then `snappy status`
// says which. Direct mode here (a file remote, `snappy run tick`); Worker mode is in
// test/e2e/fleet-worker.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Remote } from '../../../domain/layout.ts';
import { runCli } from '../../helpers/cli.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { makeMachine, writeFleetConfig } from '../../e2e/fleet.ts';
import { fileRemote, row, stageRev, tenant, writeBatch } from '../quorum/fleet.ts';

async function world() {
  const root = tmpDir('snappy-fates-');
  const remoteDir = path.join(root, 'remote');
  const remote = `file://${remoteDir}`;
  const blobs = fileRemote(remoteDir);
  const config = writeFleetConfig(root);
  const b = makeMachine({ root, name: 'b', key: 'fates-tenant-b-key', machine: 'b-box', config, remote });
  const tick = async () => {
    const r = await runCli(['run', 'tick', '--remote', remote, '--json'], { cwd: root, env: { SNAPPY_CONFIG: config } });
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).reports.tick.quorum;
  };
  const ops = async (args: string[]) => {
    const r = await runCli(['ops', ...args, '--remote', remote], { cwd: root, env: { SNAPPY_CONFIG: config } });
    assert.is(r.code, 0, r.stderr);
  };
  const fleet = await Promise.all(['x', 'y', 'z'].map(tenant));
  /** Three other tenants endorse `skill:rev` with two runs each. */
  const endorse = async (ref: string, run: string) => {
    for (const t of fleet) await writeBatch(blobs, t, [row(t, ref, 0.95, `${run}-1`), row(t, ref, 0.95, `${run}-2`)]);
  };
  return { root, remote, blobs, b, tick, ops, endorse };
}

test('status lists a staged rev as waiting until a pull learns it was promoted, rejected or quarantined, then says which', async () => {
  const w = await world();
  const good = await stageRev(w.blobs, 'triage', 'Triage, revised.\n');
  const refused = await stageRev(w.blobs, 'triage', 'Triage, risky.\n');
  const swapped = await stageRev(w.blobs, 'summarize', 'Summarize, revised.\n');
  await w.tick(); // freezes the manifests of the three revs
  await w.b.run(['run', 'pull']);
  const before = await w.b.json(['status']);
  assert.equal(before.staged.map((s: { ref: string }) => s.ref).sort(), [`summarize:${swapped}`, `triage:${good}`, `triage:${refused}`].sort());
  assert.equal(before.decided, []);
  const waiting = (await w.b.run(['status'])).stdout;
  assert.match(waiting, `  triage:${good}  0 runs logged here, 3 needed  staging/triage/${good}/triage.md`);

  // The fleet decides: one promoted by quorum, one rejected by the operator, one whose bytes
  // changed after it was staged, quarantined when its quorum came.
  await w.endorse(`triage:${good}`, 'g');
  await w.ops(['reject', 'triage', refused, '--by', 'robert', '--reason', 'unsafe advice']);
  await w.blobs.put(Remote.staged('summarize', swapped), 'Summarize, swapped after staging.\n');
  await w.endorse(`summarize:${swapped}`, 's');
  const q = await w.tick();
  assert.equal(q.revs.map((r: { rev: string; outcome: string }) => `${r.rev} ${r.outcome}`).sort(), [`summarize:${swapped} quarantined`, `triage:${good} promoted`]);
  const stale = await w.b.json(['status']);
  assert.is(stale.staged.length, 3, 'status asks no remote: until the next pull, nothing is known here');

  const pull = await w.b.run(['run', 'pull']);
  assert.match(pull.stdout, `staged rev triage:${good} was promoted; it no longer waits for evaluation here`);
  assert.match(pull.stdout, new RegExp(`staged rev triage:${refused} was rejected \\(\\S+\\): unsafe advice; it no longer waits`));
  assert.match(pull.stdout, new RegExp(`staged rev summarize:${swapped} was quarantined \\(\\S+\\): .+; it no longer waits`));
  const after = await w.b.json(['status']);
  assert.equal(after.staged, [], 'nothing waits any more');
  const fate = (ref: string) => after.decided.find((d: { ref: string }) => d.ref === ref);
  assert.equal([fate(`triage:${good}`).state, fate(`triage:${good}`).source], ['promoted', 'canonical']);
  assert.equal([fate(`triage:${refused}`).state, fate(`triage:${refused}`).by, fate(`triage:${refused}`).reason, fate(`triage:${refused}`).source], ['rejected', 'robert', 'unsafe advice', 'quorum-records']);
  assert.is(fate(`summarize:${swapped}`).state, 'quarantined');
  const text = (await w.b.run(['status'])).stdout;
  assert.match(text, 'regen: staged revisions no longer waiting (as learned at a pull):');
  assert.match(text, `  triage:${good}  promoted (canonical/triage/ holds it)`);
  assert.match(text, new RegExp(`  triage:${refused}  rejected \\S+ by robert: unsafe advice`));
  assert.match(text, new RegExp(`  summarize:${swapped}  quarantined \\S+, never to be promoted: `));
  assert.not.match(text, 'waiting for evaluation here');

  // A later promotion replaces canonical: what this machine learned stays learned.
  const next = await stageRev(w.blobs, 'triage', 'Triage, revised again.\n');
  await w.endorse(`triage:${next}`, 'n');
  await w.tick();
  await w.b.run(['run', 'pull']);
  const later = await w.b.json(['status']);
  assert.equal(later.decided.filter((d: { state: string }) => d.state === 'promoted').map((d: { ref: string }) => d.ref).sort(), [`triage:${good}`, `triage:${next}`].sort());
  const saved = JSON.parse(readFileSync(path.join(w.b.state, '.snappy', 'rev-fates.json'), 'utf8'));
  assert.equal(Object.keys(saved.revs).sort(), [`summarize:${swapped}`, `triage:${good}`, `triage:${next}`, `triage:${refused}`].sort());
});

test('a rev promoted and already replaced in canonical before this machine pulled is learned from the changelog', async () => {
  const w = await world();
  const first = await stageRev(w.blobs, 'triage', 'Triage one.\n');
  await w.tick();
  await w.b.run(['run', 'pull']);
  const second = await stageRev(w.blobs, 'triage', 'Triage two.\n');
  await w.endorse(`triage:${first}`, 'f');
  await w.tick();
  await w.endorse(`triage:${second}`, 's');
  await w.tick();
  const pull = await w.b.json(['run', 'pull']);
  const learned = pull.reports.pull.decided.map((d: { rev: string; state: string; source: string; by?: string }) => [d.rev, d.state, d.source, d.by]);
  assert.equal(learned.sort(), [[`triage:${first}`, 'promoted', 'changelog', 'quorum'], [`triage:${second}`, 'promoted', 'canonical', undefined]].sort());
});

test('an expired rev stops waiting at the next pull (status says why); once revived, a pull makes it wait again', async () => {
  const w = await world();
  const rev = await stageRev(w.blobs, 'triage', 'Triage, slow to convince.\n');
  const ref = `triage:${rev}`;
  await w.tick();
  await w.b.run(['run', 'pull']);
  assert.equal((await w.b.json(['status'])).staged.map((s: { ref: string }) => s.ref), [ref]);
  const since = Date.parse(JSON.parse(readFileSync(path.join(w.root, 'remote', Remote.since('triage', rev)), 'utf8')).ts);
  const later = String(since + 15 * 86_400_000);
  const t = await runCli(['run', 'tick', '--remote', w.remote, '--json'], { cwd: w.root, env: { SNAPPY_CONFIG: w.b.env.SNAPPY_CONFIG!, SNAPPY_NOW: later } });
  assert.equal(JSON.parse(t.stdout).reports.tick.quorum.expired, [ref]);

  // A quiet pull asks the remote's records again once an hour (by this machine's clock).
  w.b.env.SNAPPY_NOW = later;
  const pull = await w.b.run(['run', 'pull']);
  assert.match(pull.stdout, new RegExp(`staged rev ${ref} was expired \\(\\S+\\): expired after 14 days: 0 of 3 tenants endorse; 0 runs, 5 needed; it no longer waits for evaluation here`));
  const after = await w.b.json(['status']);
  assert.equal(after.staged, [], 'it no longer waits for evaluation');
  assert.equal(after.decided.map((d: { ref: string; state: string; by: string; source: string }) => [d.ref, d.state, d.by, d.source]), [[ref, 'expired', 'quorum', 'changelog']]);
  assert.match((await w.b.run(['status'])).stdout, `  ${ref}  expired `);

  const rv = await runCli(['ops', 'revive', 'triage', rev, '--by', 'robert', '--remote', w.remote], { cwd: w.root, env: { SNAPPY_CONFIG: w.b.env.SNAPPY_CONFIG!, SNAPPY_NOW: later } });
  assert.is(rv.code, 0, rv.stderr);
  // A quiet pull asks again only after an hour: a pull that brings news asks at once.
  const news = await stageRev(w.blobs, 'summarize', 'Summarize, another try.\n');
  const again = await w.b.run(['run', 'pull']);
  assert.match(again.stdout, `staged rev ${ref} was revived by an operator; it waits for evaluation here again`);
  const reopened = await w.b.json(['status']);
  assert.equal(reopened.staged.map((s: { ref: string }) => s.ref).sort(), [`summarize:${news}`, ref].sort(), 'waiting for evaluation again');
  assert.equal(reopened.decided, []);
});

test.run();
