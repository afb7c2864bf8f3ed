import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePage } from '../../../domain/frontmatter.ts';
import { AGENTS, expectExit, fill, rows, sandbox, type Sandbox } from './_util.ts';
import { CheckpointLog } from '../../helpers/checkpoints.ts';

const node = process.execPath;
const sha12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

function page(sb: Sandbox, skill: string, text: string): void {
  mkdirSync(path.join(sb.state, 'skills'), { recursive: true });
  writeFileSync(path.join(sb.state, 'skills', `${skill}.md`), text);
}

function handMarkers(sb: Sandbox, skills: readonly string[]): void {
  mkdirSync(path.join(sb.state, 'ready'), { recursive: true });
  for (const s of skills) writeFileSync(path.join(sb.state, 'ready', `${s}.ready`), '');
}

function staged(sb: Sandbox, skill: string): string[] {
  const dir = path.join(sb.state, 'staging', skill);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** True while `pid` is a process that still runs (a zombie has already ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

test('a good agent: the page lands in staging under its content hash with base_rev, manual_review kept, marker removed, brief records the outcome', async () => {
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')], pid: { cooldownMs: 0 } } });
  const current = '---\nname: summarize\nmanual_review: alice\n---\n# summarize\n\nOld page.\n';
  page(sb, 'summarize', current);
  const copyDir = path.join(sb.cwd, 'copies');
  mkdirSync(copyDir);
  const evalRows = rows('summarize', fill(6, 0.5)).map((r) => ({ ...r, prompt: 'TOP-SECRET-PROMPT', user: 'bob@example.com' }));
  sb.append(evalRows);
  const r = await sb.run(['run', 'regen', '--json'], { AGENT_COPY_DIR: copyDir });
  expectExit(r, 0, 'regen');
  const revs = staged(sb, 'summarize');
  assert.is(revs.length, 1);
  const rev = revs[0]!;
  const text = sb.read(`staging/summarize/${rev}/summarize.md`);
  assert.is(rev, sha12(text), 'rev id is not the first 12 hex of SHA-256 of the page bytes');
  const pg = parsePage(text);
  assert.is(pg.data.base_rev, sha12(current));
  assert.is(pg.data.manual_review, 'alice', 'the agent dropped manual_review and it was not carried over');
  assert.match(pg.body, /A better page for summarize/);
  assert.not.ok(sb.exists('ready/summarize.ready'), 'marker kept after a staged revision');

  for (const [rel, local] of [['log/regen-queue/summarize.m1.md', false], ['.snappy/briefs/summarize.md', true]] as const) {
    const brief = sb.read(rel);
    const bf = parsePage(brief);
    assert.is(bf.data.outcome, 'staged', rel);
    assert.is(bf.data.rev_id, rev);
    assert.is(bf.data.skill, 'summarize');
    assert.is(bf.data.machine_id, 'm1');
    assert.is(bf.data.base_rev, sha12(current));
    assert.ok(bf.data.created && bf.data.controller && bf.data.local && bf.data.fleet, `${rel}: frontmatter misses a field`);
    assert.is((bf.data.local as { runs: number }).runs, 6);
    // The page was never shared: only the local brief carries its text.
    assert.is(bf.body.includes('Old page.'), local, `${rel}: the current page's text`);
    assert.is(/Worst recent runs/.test(bf.body), local, `${rel}: the worst runs`);
    for (const row of evalRows) assert.not.ok(brief.includes((row as unknown as { run_id: string }).run_id), `a raw run id leaked into ${rel}`);
    assert.not.ok(brief.includes('TOP-SECRET') || brief.includes('bob@example.com'), `an extra raw field leaked into ${rel}`);
  }
  // The agent got the local brief on stdin, byte for byte what SNAPPY_BRIEF pointed at then.
  assert.ok(readFileSync(path.join(copyDir, 'summarize.brief.md'), 'utf8').includes('outcome: pending'));
  assert.is(readFileSync(path.join(copyDir, 'summarize.brief-path'), 'utf8'), path.join(sb.state, '.snappy', 'briefs', 'summarize.md'));
  const report = JSON.parse(r.stdout).reports.regen;
  assert.is(report.outcomes[0].outcome, 'staged');
  assert.is(report.outcomes[0].rev, rev);

  // The regen reset "runs since the last regen": the next marker needs minRuns (5) new runs.
  let st = await sb.status();
  assert.is(st.skills.summarize!.runsSinceRegen, 0);
  assert.ok(st.skills.summarize!.lastRegen);
  sb.append(rows('summarize', fill(4, 0.5), Date.parse('2026-03-02T00:00:00Z')));
  expectExit(await sb.run(['run', 'regen']), 0, 'regen after 4 runs');
  assert.not.ok(sb.exists('ready/summarize.ready'), 'a marker after only 4 runs since the regen');
  sb.append(rows('summarize', [0.5], Date.parse('2026-03-03T00:00:00Z')));
  const again = await sb.run(['run', 'regen', '--json']);
  expectExit(again, 0, 'regen after the 5th run');
  assert.equal(JSON.parse(again.stdout).reports.regen.outcomes.map((o: { outcome: string }) => o.outcome), ['staged'], 'the 5th run since the regen should drop a marker');
});

test('an agent that hangs is killed at the timeout with its whole process group; no process is left running; the marker stays', async () => {
  const sb = sandbox({ regen: { agent: ['/bin/sh', path.join(AGENTS, 'hang.sh')], timeoutMs: 300, retries: 0 } });
  const pids = path.join(sb.cwd, 'pids');
  handMarkers(sb, ['stuck']);
  // snappy is held just after starting the agent until the agent has written its pids (and
  // started its child): then the timeout, however short, finds both running.
  const log = new CheckpointLog();
  const run = sb.run(['run', 'regen'], { AGENT_PIDS: pids, ...log.env({ point: 'regen:agent-started', n: 1 }) });
  let ended = false;
  void run.then(() => (ended = true));
  await log.until(() => existsSync(pids) && readFileSync(pids, 'utf8').endsWith('\n'), () => (ended ? 'regen ended before the agent wrote its pids' : undefined));
  log.release();
  const r = await run;
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /stuck/);
  assert.match(r.stderr, /timed out after 300 ms/);
  const [shell, child] = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
  assert.ok(shell! > 0 && child! > 0);
  assert.not.ok(running(shell!), `agent ${shell} still running`);
  assert.not.ok(running(child!), `agent's child ${child} still running`);
  assert.ok(sb.exists('ready/stuck.ready'));
  assert.equal(staged(sb, 'stuck'), []);
  assert.is(parsePage(sb.read('log/regen-queue/stuck.m1.md')).data.outcome, 'failed');
});

test('an agent that exits 1 fails with its stderr, retries with backoff, is parked after parkAfter attempts, and is retried once the marker is re-created or unparked', async () => {
  const sb = sandbox({ regen: { agent: ['/bin/sh', path.join(AGENTS, 'fail.sh')], retries: 1, backoffMs: 10, parkAfter: 3 } });
  const count = path.join(sb.cwd, 'count');
  const runs = () => (existsSync(count) ? readFileSync(count, 'utf8').trim().split('\n').length : 0);
  handMarkers(sb, ['flaky']);
  const env = { AGENT_COUNT: count };
  let r = await sb.run(['run', 'regen'], env);
  assert.is(r.code, 1);
  assert.match(r.stderr, /flaky/);
  assert.match(r.stderr, /exited with code 1/);
  assert.match(r.stderr, /model quota exhausted/);
  assert.is(runs(), 2, 'one attempt plus one retry');
  assert.ok(sb.exists('ready/flaky.ready'));
  assert.is(parsePage(sb.read('log/regen-queue/flaky.m1.md')).data.outcome, 'failed');

  r = await sb.run(['run', 'regen'], env);
  assert.is(r.code, 1);
  assert.is(runs(), 3, 'the third failed attempt parks the skill');
  assert.match(r.stderr, /parked/);
  let st = await sb.status();
  assert.is(st.skills.flaky!.parked, true);
  assert.match(st.skills.flaky!.lastError ?? '', /exited with code 1/);

  r = await sb.run(['run', 'regen'], env);
  assert.is(r.code, 0, 'a parked skill is skipped, not failed again');
  assert.is(runs(), 3, 'a parked skill was retried');
  assert.match(r.stderr, /parked/);

  // Re-creating the marker is a new request: attempts start over.
  writeFileSync(path.join(sb.state, 'ready', 'flaky.ready'), '{"skill":"flaky","reason":"by hand, again"}');
  r = await sb.run(['run', 'regen'], env);
  assert.is(r.code, 1);
  assert.is(runs(), 5);
  r = await sb.run(['run', 'regen'], env);
  assert.is(runs(), 6);
  st = await sb.status();
  assert.is(st.skills.flaky!.parked, true);
  expectExit(await sb.run(['run', 'regen-unpark']), 0, 'unpark');
  st = await sb.status();
  assert.is(st.skills.flaky!.parked, false);
  r = await sb.run(['run', 'regen'], env);
  assert.is(runs(), 8, 'an unparked skill is tried again');
});

test('an agent that prints garbage or nothing is a failure with a clear message, not a revision', async () => {
  const sb = sandbox({
    regen: {
      retries: 0,
      skills: { chatty: { agent: [node, path.join(AGENTS, 'garbage.mjs')] }, mute: { agent: ['/bin/sh', path.join(AGENTS, 'empty.sh')] } },
    },
  });
  handMarkers(sb, ['chatty', 'mute']);
  const r = await sb.run(['run', 'regen']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /chatty: regen attempt 1 failed: .*not a skill page: no frontmatter/);
  assert.match(r.stderr, /"Sure! Here is an improved version/);
  assert.match(r.stderr, /mute: regen attempt 1 failed: the regen agent printed nothing/);
  assert.equal(staged(sb, 'chatty'), []);
  assert.equal(staged(sb, 'mute'), []);
  assert.ok(sb.exists('ready/chatty.ready') && sb.exists('ready/mute.ready'));
});

test('a page with a folded block, a list and a commented manual_review is staged with them intact; a frontmatter that is not YAML is refused', async () => {
  const sb = sandbox({ regen: { retries: 0, agent: [node, path.join(AGENTS, 'good.mjs')] } });
  page(sb, 'rich', '---\nname: rich\nmanual_review: robert # owner\n---\n# rich\n\nOld.\n');
  handMarkers(sb, ['rich']);
  const extra = 'summary: >\n  Folded over\n  two lines.\ntags:\n  - alpha\n  - beta\nmanual_review: robert # the owner';
  expectExit(await sb.run(['run', 'regen'], { AGENT_PAGE_EXTRA: extra }), 0, 'regen');
  const revs = staged(sb, 'rich');
  assert.is(revs.length, 1);
  const text = sb.read(`staging/rich/${revs[0]}/rich.md`);
  const pg = parsePage(text);
  assert.is(pg.data.summary, 'Folded over two lines.\n');
  assert.equal(pg.data.tags, ['alpha', 'beta']);
  assert.is(pg.data.manual_review, 'robert');
  assert.is(pg.data.base_rev, sha12('---\nname: rich\nmanual_review: robert # owner\n---\n# rich\n\nOld.\n'));
  assert.ok(text.includes('summary: >\n') && text.includes('manual_review: robert # the owner\n'), `the agent's frontmatter is kept as written:\n${text}`);

  handMarkers(sb, ['broken']);
  const r = await sb.run(['run', 'regen'], { AGENT_PAGE_EXTRA: 'title: Fix: the thing' });
  assert.is(r.code, 1);
  assert.match(r.stderr, /broken: regen attempt 1 failed: the regen agent printed a page whose frontmatter is not valid YAML \(line 4 of the page\)/);
  assert.equal(staged(sb, 'broken'), []);
  assert.ok(sb.exists('ready/broken.ready'));
});

test('eight markers at concurrency 2: every one staged, never more than 2 agents at once', async () => {
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')], concurrency: 2 } });
  const log = path.join(sb.cwd, 'agents.log');
  const skills = Array.from({ length: 8 }, (_, i) => `skill${i}`);
  handMarkers(sb, skills);
  expectExit(await sb.run(['run', 'regen'], { AGENT_LOG: log, AGENT_SLEEP_MS: '300' }), 0, 'regen');
  for (const s of skills) {
    assert.is(staged(sb, s).length, 1, `${s} not staged`);
    assert.not.ok(sb.exists(`ready/${s}.ready`));
  }
  // Each agent writes "end" before it exits, and the queue starts the next one only after
  // an exit: so in file order, running = starts - ends is the true number at once.
  let now = 0;
  let most = 0;
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.is(lines.length, 16);
  for (const l of lines) {
    now += l.startsWith('start') ? 1 : -1;
    most = Math.max(most, now);
  }
  assert.is(most, 2, `at most ${most} agents ran at once`);
});

test('an agent given as a function in snappy.config.mjs gets the brief and its page is staged', async () => {
  const sb = sandbox(`export default { regen: { agent: async (brief, ctx) => {
    if (!brief.includes('# Regen brief: ' + ctx.skill)) throw new Error('not the brief');
    return '---\\nname: ' + ctx.skill + '\\n---\\nWritten by a function.\\n';
  } } };\n`);
  handMarkers(sb, ['fn']);
  expectExit(await sb.run(['run', 'regen']), 0, 'regen');
  const revs = staged(sb, 'fn');
  assert.is(revs.length, 1);
  const text = sb.read(`staging/fn/${revs[0]}/fn.md`);
  assert.is(revs[0], sha12(text));
  assert.match(text, /Written by a function/);
  assert.match(text, /base_rev: null/);
});

test('with no agent configured: the brief is written (local and fleet summaries), the marker stays, and one line says so', async () => {
  const sb = sandbox();
  sb.append(rows('lonely', fill(6, 0.4)));
  // The fleet's aggregate rows: two tenants for the page, one row of a staged rev, one of another skill.
  const agg = (tenant: string, skill: string, score: number, i: number) =>
    JSON.stringify({ _v: 1, ts: new Date(Date.UTC(2026, 2, 1, 0, i)).toISOString(), skill, score, run_id: `${tenant.slice(0, 4)}${String(i).padStart(12, '0')}`, tenant, cost_usd_cents: 2, ok: true });
  mkdirSync(path.join(sb.state, 'log'), { recursive: true });
  writeFileSync(
    path.join(sb.state, 'log', 'evals.aggregate.ndjson'),
    [agg('aaaaaaaaaaaa', 'lonely', 0.2, 1), agg('aaaaaaaaaaaa', 'lonely', 0.6, 2), agg('bbbbbbbbbbbb', 'lonely', 1, 3), agg('bbbbbbbbbbbb', 'lonely:0123456789ab', 0, 4), agg('cccccccccccc', 'other', 0, 5), 'not json'].join('\n') + '\n',
  );
  const r = await sb.run(['run', 'regen']);
  expectExit(r, 0, 'regen');
  const said = r.stdout.split('\n').filter((l) => /no regen agent configured/.test(l));
  assert.is(said.length, 1, r.stdout);
  assert.match(said[0]!, /\.snappy\/briefs\/lonely\.md \(shared summary: log\/regen-queue\/lonely\.m1\.md\)/);
  assert.ok(sb.exists('ready/lonely.ready'));
  const brief = parsePage(sb.read('.snappy/briefs/lonely.md'));
  assert.is(brief.data.outcome, 'no-agent');
  assert.equal(brief.data.fleet, { runs: 3, mean: 0.6, min: 0.2, max: 1, okRate: 1, tenants: 2 });
  assert.equal((brief.data.local as { runs: number; mean: number }).mean, 0.4);
  assert.match(brief.body, /Worst runs in the fleet aggregate \(3 of 3, 2 tenant\(s\)\)/);
  assert.match(brief.body, /\| 2026-03-01T00:01:00.000Z \| 0.2 \| true \| 2 \|/);
  assert.not.ok(brief.body.includes('aaaa000000000001'), 'an aggregate run id was copied into the brief');
  // The shared brief: 6 local runs are summarized; 3 fleet runs are too few, only counted.
  const shared = parsePage(sb.read('log/regen-queue/lonely.m1.md'));
  assert.is(shared.data.outcome, 'no-agent');
  assert.equal(shared.data.fleet, { runs: 3, mean: null, p25: null, p50: null, p75: null, okRate: null, from: null, to: null, tenants: 2 });
  assert.equal(shared.data.local, { runs: 6, mean: 0.4, p25: 0.4, p50: 0.4, p75: 0.4, okRate: 0, from: '2026-03-01', to: '2026-03-01' });
  assert.equal(staged(sb, 'lonely'), []);
});

test('push --auto runs the regen step: a marker dropped by the new rows is staged in the same run', async () => {
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')] } });
  sb.append(rows('auto', fill(6, 0.4)));
  const r = await sb.run(['run', 'push', '--auto', '--json']);
  expectExit(r, 0, 'push --auto');
  assert.ok(JSON.parse(r.stdout).tasks.includes('regen'));
  assert.is(staged(sb, 'auto').length, 1);
  assert.not.ok(sb.exists('ready/auto.ready'));
});

test('regen --dry-run names the markers it would handle and changes nothing', async () => {
  const sb = sandbox({ regen: { agent: [node, path.join(AGENTS, 'good.mjs')] } });
  handMarkers(sb, ['dry']);
  sb.append(rows('dry', fill(6, 0.95)));
  const r = await sb.run(['run', 'regen', '--dry-run']);
  expectExit(r, 0, 'dry run');
  assert.match(r.stdout, /would regen dry/);
  assert.ok(sb.exists('ready/dry.ready'));
  assert.equal(staged(sb, 'dry'), []);
  assert.not.ok(sb.exists('log/regen-queue/dry.m1.md'));
  assert.not.ok(sb.exists('.snappy/pid/dry.json'), 'the dry run ingested rows');
});

test.run();
