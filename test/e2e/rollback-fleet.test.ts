// The post-promotion watch end to end, on the file remote (`snappy run tick`) and in real workerd
// (the Worker's cron, tenants pushing through its signed API): four tenants' machines driven
// through the real CLI as processes. Three adopt a promoted page and log their runs of it; the
// fourth edited its page and never adopts. What the tick decides is then pulled by every machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Miniflare } from 'miniflare';
import { R2BlobStore } from '../../adapters/r2-blob-store.ts';
import { FileBlobStore } from '../../adapters/file-blob-store.ts';
import type { BlobStore } from '../../core/ports.ts';
import { tenantIdOf } from '../../domain/hash.ts';
import { Remote } from '../../domain/layout.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { entries, stageRev, text } from '../plugins/quorum/fleet.ts';
import { admit, OPS_TOKEN } from '../worker/client.ts';
import { buildTestWorker, kvOf, portOf, r2Of, startWorker } from '../worker/helpers.ts';
import { makeMachine, rows, writeFleetConfig, type Machine } from './fleet.ts';

const KEYS = ['tenant-A-5Qm0c8ZrT2vX9kLp4HwB7nJd1sGy6fEa3UuRiOoP', 'tenant-B-Vb2N8xK4qW7eR1tY5uI9oP3aS6dF0gHjLzXcMnQw', 'tenant-C-Hs6Gd3Fa9Jk2Lq5Wz8Xc1Vb4Nm7Qe0RtYuIoPaSd', 'tenant-D-Kd8Rt2Wq5Zx1Cv7Bn4Mm9Lp3Jh6Gf0DsAaQwErTyUi'];
const DAY = 86_400_000;
const P_PAGE = '---\nname: triage\n---\n# triage\n\nSort tickets by severity first, then by age.\n';
const R_PAGE = '---\nname: triage\n---\n# triage\n\nSort tickets by the reporter\'s mood.\n';
const D_EDIT = '\nOur own note: pagers go first.\n';

process.stderr.setMaxListeners(50);

/** A fleet on one remote: four tenants' machines, a way to tick, and what an operator sees. */
interface Fleet {
  mode: 'file' | 'worker';
  blobs: BlobStore;
  machines: Machine[];
  /** a, b and c: they adopt promoted pages. */
  adopters: Machine[];
  /** d: edits its page, so it never adopts a promoted one. */
  d: Machine;
  tick(): Promise<void>;
  ops(args: string[], expect?: number): Promise<any>;
  lastRollback(): Promise<Record<string, unknown> | null>;
  close(): Promise<void>;
}

let script = '';

async function fleet(mode: 'file' | 'worker'): Promise<Fleet> {
  const root = tmpDir(`snappy-rollback-${mode}-`);
  // No grace after adoption: a tenant's runs logged after its push count at once.
  const quorum = { watch: { graceMs: 0 } };
  if (mode === 'file') {
    const remoteDir = path.join(root, 'remote');
    const remote = `file://${remoteDir}`;
    const config = writeFleetConfig(root, { quorum });
    const machines = KEYS.map((key, i) => makeMachine({ root, name: 'abcd'[i]!, key, machine: `${'abcd'[i]}-box`, config, remote, skills: ['triage'] }));
    const blobs = new FileBlobStore(remoteDir);
    const opEnv = { SNAPPY_CONFIG: config, SNAPPY_REMOTE: remote, SNAPPY_STATE: path.join(root, 'operator'), USER: 'olga' };
    mkdirSync(opEnv.SNAPPY_STATE);
    return {
      mode, blobs, machines, adopters: machines.slice(0, 3), d: machines[3]!,
      tick: async () => void (await machines[0]!.run(['run', 'tick'])),
      ops: async (args, expect = 0) => {
        const r = await runCli(['ops', ...args, '--json'], { cwd: root, env: opEnv });
        assert.is(r.code, expect, `snappy ops ${args.join(' ')}: ${r.stderr}`);
        return JSON.parse(r.stdout);
      },
      lastRollback: async () => {
        const v = await text(blobs, 'snappy-kv/last_quorum_rollback');
        return v ? JSON.parse(v) : null;
      },
      close: async () => {},
    };
  }
  script ||= await buildTestWorker('test/worker/fixtures/watch.config.ts');
  const mf: Miniflare = await startWorker(script, { OPS_TOKENS: `robert:${OPS_TOKEN}` });
  const port = await portOf(mf);
  const blobs = new R2BlobStore(await r2Of(mf));
  const config = writeFleetConfig(root, { worker: { url: `http://127.0.0.1:${port}` } });
  const env = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined } as unknown as Record<string, string>;
  const machines = KEYS.map((key, i) => makeMachine({ root, name: 'abcd'[i]!, key, machine: `${'abcd'[i]}-box`, config, env, skills: ['triage'] }));
  for (const key of KEYS) await admit(mf, { masterKey: key, id: await tenantIdOf(key) }, 'robert');
  return {
    mode, blobs, machines, adopters: machines.slice(0, 3), d: machines[3]!,
    tick: async () => {
      const r = await (await mf.getWorker()).scheduled({ cron: '* * * * *' });
      assert.is(r.outcome, 'ok', 'the cron tick ran');
    },
    ops: async (args, expect = 0) => {
      const r = await runCli(['ops', ...args, '--json'], { cwd: root, env: { SNAPPY_CONFIG: config, SNAPPY_OPS_TOKEN: OPS_TOKEN } });
      assert.is(r.code, expect, `snappy ops ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    lastRollback: async () => {
      const v = await (await kvOf(mf)).get('last_quorum_rollback');
      return v ? JSON.parse(v) : null;
    },
    close: () => mf.dispose(),
  };
}

const page = (m: Machine): string => readFileSync(path.join(m.state, 'skills', 'triage.md'), 'utf8');
const canonical = (f: Fleet) => text(f.blobs, `${Remote.canonicalDir('triage')}triage.md`);

/** Stages `body` as a rev of triage and has a, b and c endorse it (rows pushed by the CLI) until a tick promotes it. */
async function promote(f: Fleet, body: string, tag: string): Promise<string> {
  const rev = await stageRev(f.blobs, 'triage', body);
  for (const m of f.adopters) {
    m.log(rows(`triage:${rev}`, [0.9, 0.92], `${m.name}-${tag}`));
    await m.run(['run', 'push']);
  }
  await f.tick();
  assert.ok((await entries(f.blobs, 'triage')).some((e) => e.action === 'promote' && e.rev_id === rev), `setup: triage:${rev} promoted`);
  return rev;
}

/**
 * P canonical and on every machine (d then edits its copy), ten baseline runs at 0.9 per adopter
 * three days back, R promoted over P, pulled by every machine and pushed back: a, b and c adopt R.
 */
async function promotedAndAdopted(f: Fleet): Promise<{ p: string; r: string }> {
  for (const m of f.machines) await m.run(['run', 'push']); // each machine's page is known to sync
  const p = await promote(f, P_PAGE, 'p');
  for (const m of f.machines) await m.run(['run', 'pull']);
  for (const m of f.machines) assert.is(page(m), P_PAGE, `setup: ${m.name} adopted P`);
  for (const m of f.adopters) m.log(rows('triage', Array(10).fill(0.9), `${m.name}-base`, Date.now() - 3 * DAY));
  for (const m of f.machines) await m.run(['run', 'push']);
  // d edits its page after its last sync: the next promotion comes beside it as .incoming.
  writeFileSync(path.join(f.d.state, 'skills', 'triage.md'), P_PAGE + D_EDIT);
  const r = await promote(f, R_PAGE, 'r');
  for (const m of f.machines) await m.run(['run', 'pull']);
  for (const m of f.adopters) assert.is(page(m), R_PAGE, `setup: ${m.name} took R`);
  assert.is(page(f.d), P_PAGE + D_EDIT, 'setup: d keeps its edit');
  for (const m of f.machines) await m.run(['run', 'push']); // the push of R is the adoption
  await f.tick();
  const w = (await f.ops(['watch'])).watches.find((x: { rev: string }) => x.rev === r);
  assert.ok(w, 'setup: the promotion of R is watched');
  assert.is(w.adopted, 3, 'setup: a, b and c adopted R; d did not');
  return { p, r };
}

/** Each of `who` logs runs of plain triage now (after its adoption) and pushes them. */
async function runsNow(who: [Machine, number[]][], tag: string): Promise<void> {
  for (const [m, scores] of who) {
    m.log(rows('triage', scores, `${m.name}-${tag}`, Date.now() + 1000));
    await m.run(['run', 'push']);
  }
}

async function withFleet(mode: 'file' | 'worker', fn: (f: Fleet) => Promise<void>): Promise<void> {
  const f = await fleet(mode);
  try {
    await fn(f);
  } finally {
    await f.close();
  }
}

for (const mode of ['file', 'worker'] as const) {
  test(`${mode}: a promoted page whose scores fall is rolled back once; every tenant whose page was unchanged gets the previous page back, an edited page stays`, () =>
    withFleet(mode, async (f) => {
      const { p, r } = await promotedAndAdopted(f);
      const [a, b, c] = f.adopters as [Machine, Machine, Machine];
      await runsNow([[a, Array(10).fill(0.3)], [b, Array(10).fill(0.35)], [c, Array(10).fill(0.4)]], 'post');
      await f.tick();
      await f.tick();
      const log = await entries(f.blobs, 'triage');
      assert.equal(log.map((e) => `${e.seq} ${e.action} ${e.rev_id} ${e.by}`), [`1 promote ${p} quorum`, `2 promote ${r} quorum`, `3 rollback ${r} rollback`], 'one rollback entry after two ticks');
      assert.equal([log[2]!.tenants, log[2]!.runs, log[2]!.restored], [3, 30, { rev_id: p, seq: 1 }]);
      assert.is(await canonical(f), P_PAGE, 'canonical is P again');
      assert.equal((await f.lastRollback())?.rev_id, r, 'KV last_quorum_rollback names R');
      // d edits its page again since its last sync: a page changed here is never overwritten.
      writeFileSync(path.join(f.d.state, 'skills', 'triage.md'), P_PAGE + D_EDIT + D_EDIT);
      for (const m of f.machines) await m.run(['run', 'pull']);
      for (const m of f.adopters) assert.is(page(m), P_PAGE, `${m.name}: its unchanged page is P again`);
      assert.is(page(f.d), P_PAGE + D_EDIT + D_EDIT, 'd: its edit is kept');
      // What a tenant's `snappy status` says: the rollback, with no tenant's identity.
      const st = await a.json(['status']);
      const rb = st.quorum.watch.rollbacks.find((x: { rev_id: string }) => x.rev_id === r);
      assert.equal([rb.by, rb.restored, rb.marked], ['rollback', { rev_id: p, seq: 1 }, true]);
      assert.not.ok(JSON.stringify(st.quorum.watch).includes(await tenantIdOf(KEYS[1]!)), 'status names no other tenant');
      const human = await a.run(['status']);
      assert.match(human.stdout, `rolled back triage:${r}`);
    }));

  test(`${mode}: scores that hold, one bad run, one objecting tenant and a tenant that never adopted never roll back`, () =>
    withFleet(mode, async (f) => {
      const { r } = await promotedAndAdopted(f);
      const [a, b, c] = f.adopters as [Machine, Machine, Machine];
      // a: one bad run among ten; b: holds; c: objects alone; d (never adopted R) scores badly.
      await runsNow([[a, [...Array(9).fill(0.9), 0]], [b, Array(10).fill(0.88)], [c, Array(10).fill(0.2)], [f.d, Array(10).fill(0.1)]], 'post');
      await f.tick();
      await f.tick();
      assert.equal((await entries(f.blobs, 'triage')).map((e) => e.action), ['promote', 'promote'], 'no rollback');
      assert.is(await canonical(f), R_PAGE);
      const w = (await f.ops(['watch'])).watches.find((x: { rev: string }) => x.rev === r);
      const by = Object.fromEntries(w.tenants.map((t: { tenant: string; state: string }) => [t.tenant, t.state]));
      const ids = await Promise.all(KEYS.map(tenantIdOf));
      assert.equal([by[ids[0]!], by[ids[1]!], by[ids[2]!], by[ids[3]!]], ['holds', 'holds', 'objects', 'not adopted']);
      const st = await a.json(['status']);
      assert.equal(st.quorum.watch.watches.map((x: { rev: string; objecting: number; adopted: number }) => [x.rev, x.objecting, x.adopted]), [[r, 1, 3]]);
      assert.match((await a.run(['status'])).stdout, `watching triage:${r}`);
    }));

  test(`${mode}: promote, roll back, clear, promote again writes four entries in order`, () =>
    withFleet(mode, async (f) => {
      const { p, r } = await promotedAndAdopted(f);
      await runsNow(f.adopters.map((m) => [m, Array(10).fill(0.3)] as [Machine, number[]]), 'post');
      await f.tick();
      const cleared = await f.ops(['clear', 'triage', r, '--reason', 'the eval set was broken']);
      assert.is(cleared.changed, true);
      await f.tick();
      const all = await entries(f.blobs, 'triage');
      assert.equal([all[0]!.seq, all[0]!.action, all[0]!.rev_id], [1, 'promote', p]);
      const tail = all.slice(1).map((e) => [e.seq, e.action, e.rev_id]);
      assert.equal(tail, [
        [2, 'promote', r],
        [3, 'rollback', r],
        [4, 'clear', r],
        [5, 'promote', r],
      ]);
      assert.is(await canonical(f), R_PAGE);
    }));
}

test.run();
