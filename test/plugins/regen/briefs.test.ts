// The two briefs of a regen: the local one the agent works from (never synced) and the shared
// one that goes to every tenant (summaries only), with a machine id that is a stored pseudonym.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePage } from '../../../domain/frontmatter.ts';
import { tenantIdOf } from '../../../domain/hash.ts';
import { readTree } from '../../e2e/fleet.ts';
import { AGENTS, expectExit, rows, sandbox, type Sandbox } from './_util.ts';

const node = process.execPath;
const KEY = 'q8VZ0kqH6t9dPj2sXbWmR4nLcE7yTfA1uGhK5oMi3Bw';
const PAGE = '---\nname: summarize\n---\n# summarize\n\nPAGE-SECRET-7c1e: the tenant keeps this wording to itself.\n';
const sha12 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex').slice(0, 12);
/** The host name as a word of its own (it may be as short as two letters). */
const hostWord = new RegExp(`(?<![A-Za-z0-9])${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'i');
/** A time of day, as any ISO time carries: the shared brief has days only. */
const TIME_OF_DAY = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

/** Runs with distinct 4-decimal scores, each carrying private fields. */
function privateRows(skill: string, n: number, base: number): Record<string, unknown>[] {
  return rows(skill, Array.from({ length: n }, (_, i) => Math.round((base + i * 0.0017) * 1e4) / 1e4)).map((r) => ({ ...r, prompt: 'PROMPT-SECRET-91ab', user_email: 'someone@example.com' }));
}

/** Checks that text shows nothing of a single run, the host name, or private fields. */
function assertShareable(what: string, text: string, runs: Record<string, unknown>[]): void {
  assert.not.ok(TIME_OF_DAY.test(text), `${what} carries a time of day: ${TIME_OF_DAY.exec(text)?.[0]}`);
  assert.not.ok(/\d\.\d{3,}/.test(text), `${what} carries a number finer than 0.01: ${/\d\.\d{3,}/.exec(text)?.[0]}`);
  assert.not.ok(hostWord.test(text), `${what} carries the host name ${os.hostname()}`);
  for (const s of ['PROMPT-SECRET-91ab', 'someone@example.com', 'Worst recent runs']) assert.not.ok(text.includes(s), `${what} carries ${s}`);
  for (const r of runs) {
    assert.not.ok(text.includes(String(r.run_id)), `${what} carries the raw run id ${r.run_id}`);
    assert.not.ok(text.includes(String(r.ts)), `${what} carries the exact time ${r.ts}`);
    assert.not.ok(text.includes(String(Date.parse(String(r.ts)))), `${what} carries the epoch ms of ${r.ts}`);
  }
}

function runAs(sb: Sandbox, remote: string, extra: Record<string, string | undefined> = {}) {
  return (args: string[]) => sb.run(args, { SNAPPY_MACHINE_ID: undefined, SNAPPY_MASTER_KEY: KEY, SNAPPY_REMOTE: remote, ...extra });
}

test('read-only commands on a fresh state dir store no machine id', async () => {
  const sb = sandbox();
  const run = runAs(sb, `file://${path.join(sb.cwd, 'remote')}`);
  const st = await run(['status', '--json']);
  expectExit(st, 0, 'status');
  assert.match(JSON.parse(st.stdout).machine, /^m-[a-z2-7]{10}$/);
  expectExit(await run(['run', 'push', '--dry-run']), 0, 'push --dry-run');
  assert.not.ok(sb.exists('.snappy/machine-id'), 'a read-only command stored a machine id');
});

test('the agent gets the local brief; the shared brief summarizes, carries no run, no time of day, no unshared page; nothing local is pushed', async () => {
  const remoteDir = path.join(tmpRemote(), 'r');
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')] }, sync: { allow: ['**'] } });
  const copyDir = path.join(sb.cwd, 'copies');
  mkdirSync(copyDir);
  mkdirSync(path.join(sb.state, 'skills'), { recursive: true });
  writeFileSync(path.join(sb.state, 'skills', 'summarize.md'), PAGE);
  const runs = privateRows('summarize', 12, 0.4123);
  sb.append(runs);
  const run = runAs(sb, `file://${remoteDir}`, { AGENT_COPY_DIR: copyDir });
  expectExit(await run(['run', 'push', '--auto']), 0, 'push --auto');

  // The machine id: a pseudonym generated once and stored, never the host name.
  const id = sb.read('.snappy/machine-id').trim();
  assert.match(id, /^m-[a-z2-7]{10}$/);
  assert.not.ok(hostWord.test(id));
  const st = JSON.parse((await run(['status', '--json'])).stdout);
  assert.is(st.machine, id, 'the stored id is used by the next run');

  // The local brief: what the agent got through SNAPPY_BRIEF and on stdin.
  const local = sb.read('.snappy/briefs/summarize.md');
  assert.is(readFileSync(path.join(copyDir, 'summarize.brief-path'), 'utf8'), path.join(sb.state, '.snappy', 'briefs', 'summarize.md'));
  const got = readFileSync(path.join(copyDir, 'summarize.brief.md'), 'utf8');
  assert.ok(got.includes('PAGE-SECRET-7c1e') && got.includes('Worst recent runs') && got.includes(String(runs[0]!.ts)), 'the agent got the page, the worst runs and their times');
  assert.is(parsePage(local).data.outcome, 'staged');

  // The shared brief.
  const sharedRel = `log/regen-queue/summarize.${id}.md`;
  const shared = sb.read(sharedRel);
  const sp = parsePage(shared);
  assert.is(sp.data.machine_id, id);
  assert.is(sp.data.base_rev, sha12(PAGE));
  assert.is(sp.data.page, 'not shared');
  assert.match(String(sp.data.created), /^\d{4}-\d\d-\d\d$/);
  assert.match(String(sp.data.finished), /^\d{4}-\d\d-\d\d$/);
  assert.is(sp.data.outcome, 'staged');
  assert.match(String(sp.data.rev_id), /^[0-9a-f]{12}$/);
  const controller = sp.data.controller as Record<string, unknown>;
  assert.is(controller.at, undefined, 'the controller snapshot keeps its exact time');
  assert.match(String(controller.day), /^\d{4}-\d\d-\d\d$/);
  const localSummary = sp.data.local as Record<string, unknown>;
  assert.is(localSummary.runs, 12);
  assert.is(localSummary.from, '2026-03-01');
  assert.is(localSummary.mean, 0.42);
  assert.not.ok(shared.includes('PAGE-SECRET-7c1e'), 'the shared brief carries a page that was never shared');
  assert.not.ok(/^\| \d{4}-/m.test(shared), 'the shared brief has a per-run table row');
  for (const r of runs) assert.not.ok(shared.includes(String(r.score)), `the shared brief carries the exact score ${r.score}`);
  assertShareable('the shared brief', shared, runs);

  // What reached the remote: the shared brief under its tenant; nothing of the local brief.
  const tenant = await tenantIdOf(KEY);
  const tree = readTree(remoteDir);
  assert.is(tree.get(`snappy-briefs/${tenant}/summarize.${id}.md`)?.toString('utf8'), shared);
  for (const [key, bytes] of tree) {
    const text = bytes.toString('utf8');
    assert.not.ok(key.includes('.snappy') || key.includes('machine-id'), `${key}: local state was pushed`);
    assert.not.ok(text === local || text.includes('Worst recent runs'), `${key} carries the local brief`);
    // The tenant's own page is shared with its own machines; it appears nowhere else.
    if (key !== `snappy-tenants/${tenant}/skills/summarize.md`) assert.not.ok(text.includes('PAGE-SECRET-7c1e'), `${key} carries the unshared page`);
    if (!key.startsWith('snappy-agg/')) assertShareable(key, text, runs);
  }
});

test('the shared brief carries the page once it is canonical; fewer than 5 runs give only their count', async () => {
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')] } });
  const run = runAs(sb, `file://${path.join(sb.cwd, 'remote')}`);
  mkdirSync(path.join(sb.state, 'skills'), { recursive: true });
  writeFileSync(path.join(sb.state, 'skills', 'summarize.md'), PAGE);
  mkdirSync(path.join(sb.state, 'canonical', 'summarize'), { recursive: true });
  writeFileSync(path.join(sb.state, 'canonical', 'summarize', 'summarize.md'), PAGE);
  const runs = privateRows('tiny', 3, 0.2345);
  sb.append(runs);
  mkdirSync(path.join(sb.state, 'ready'), { recursive: true });
  for (const s of ['summarize', 'tiny']) writeFileSync(path.join(sb.state, 'ready', `${s}.ready`), '');
  expectExit(await run(['run', 'regen']), 0, 'regen');
  const id = sb.read('.snappy/machine-id').trim();
  const canonical = parsePage(sb.read(`log/regen-queue/summarize.${id}.md`));
  assert.is(canonical.data.page, 'shared');
  assert.ok(canonical.body.includes('PAGE-SECRET-7c1e'), 'the page is canonical: its text may be shared');
  const tiny = sb.read(`log/regen-queue/tiny.${id}.md`);
  assert.equal(parsePage(tiny).data.local, { runs: 3, mean: null, p25: null, p50: null, p75: null, okRate: null, from: null, to: null });
  assertShareable('the brief of 3 runs', tiny, runs);
});

test('a failed regen records its outcome in the shared brief without the agent\'s error text; without a master key no brief is pushed', async () => {
  const remoteDir = path.join(tmpRemote(), 'r');
  const sb = sandbox({ regen: { agent: ['/bin/sh', path.join(AGENTS, 'fail.sh')], retries: 0 } });
  mkdirSync(path.join(sb.state, 'ready'), { recursive: true });
  writeFileSync(path.join(sb.state, 'ready', 'flaky.ready'), JSON.stringify({ reason: 'PROMPT-SECRET-91ab in a hand-written marker', snapshot: { at: '2026-03-01T10:11:12.345Z', runs: 2 } }));
  const noKey = runAs(sb, `file://${remoteDir}`, { SNAPPY_MASTER_KEY: undefined });
  const r = await noKey(['run', 'regen']);
  assert.is(r.code, 1, r.stderr);
  const id = sb.read('.snappy/machine-id').trim();
  const shared = sb.read(`log/regen-queue/flaky.${id}.md`);
  assert.is(parsePage(shared).data.outcome, 'failed');
  assert.not.ok(shared.includes('model quota exhausted'), 'the agent\'s stderr reached the shared brief');
  assertShareable('the shared brief of a failed regen', shared, []);
  assert.match(sb.read('.snappy/briefs/flaky.md'), /model quota exhausted/);
  expectExit(await noKey(['run', 'push']), 0, 'push without a key');
  assert.not.ok(existsSync(path.join(remoteDir, 'snappy-briefs')), 'a brief was pushed without a tenant');
});

function tmpRemote(): string {
  return sandbox().cwd;
}

test.run();
