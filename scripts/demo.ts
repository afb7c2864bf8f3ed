// `npm run demo [-- --keep]`: a three-tenant fleet on the embedded default (a remote folder,
// `snappy run tick` standing in for the Worker's cron), driven through the real CLI, told as
// it happens: a promotion by quorum, then the same page regressing under watch and rolled back.
// Deterministic: fixed keys, fixed scores, a regen agent without a model; the runs judged after
// the promotion are logged at the time of the run (the watch counts runs after each adoption).
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tenantIdOf } from '../domain/hash.ts';
import { DEMO_KEYS } from './demo-keys.ts';
import { progressWords, tenantsWords } from '../plugins/quorum/words.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'snappy.cjs');
const AGENT = path.join(ROOT, 'examples', 'regen-agent.mjs');
/** Eval times are fixed so every run of the demo computes the same numbers and rev ids. */
const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const SKILL = 'triage';

const keep = process.argv.includes('--keep');
const dir = mkdtempSync(path.join(os.tmpdir(), 'snappy-demo-'));
const remoteDir = path.join(dir, 'remote');
const remote = `file://${remoteDir}`;
const config = path.join(dir, 'snappy.config.json');

const say = (line = '') => process.stdout.write(`${line}\n`);

/** One machine: its state dir and the environment its `snappy` commands run with. */
interface Machine {
  name: string;
  tenant: string;
  state: string;
  env: Record<string, string>;
}

function snappy(m: Machine | null, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && v !== undefined) env[k] = v;
  Object.assign(env, { SNAPPY_CONFIG: config, SNAPPY_REMOTE: remote, NO_COLOR: '1' }, m?.env ?? {});
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${m?.name ?? 'operator'}: snappy ${args.join(' ')} failed (${err.code}):\n${stdout}${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

async function json(m: Machine | null, args: string[]): Promise<any> {
  return JSON.parse((await snappy(m, [...args, '--json'])).stdout);
}

async function machine(name: string, tenant: string, masterKey: string): Promise<Machine> {
  const state = path.join(dir, name, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  writeFileSync(path.join(state, 'skills', `${SKILL}.md`), `---\nname: ${SKILL}\ndescription: sort incoming tickets by urgency\n---\n# ${SKILL}\n\nRead the ticket and label it urgent, normal or low.\n`);
  return { name, tenant, state, env: { SNAPPY_MASTER_KEY: masterKey, SNAPPY_MACHINE_ID: name, SNAPPY_STATE: state } };
}

/** Appends eval runs to a machine's raw log, as its eval harness would; private fields included. */
function logRuns(m: Machine, skill: string, scores: number[], from: number): void {
  mkdirSync(path.join(m.state, 'log'), { recursive: true });
  const lines = scores.map((score, i) => JSON.stringify({ ts: new Date(from + i * 60_000).toISOString(), skill, score, run_id: `${m.name}-run-${from / 60_000 + i}`, ok: score >= 0.5, cost_usd: 0.012, prompt: 'private prompt text that never leaves this machine' }));
  appendFileSync(path.join(m.state, 'log', 'evals.ndjson'), `${lines.join('\n')}\n`);
}

function aggregateRows(m: Machine, skill?: string): number {
  const f = path.join(m.state, 'log', 'evals.aggregate.ndjson');
  if (!existsSync(f)) return 0;
  return readFileSync(f, 'utf8').split('\n').filter((l) => l && (!skill || l.includes(`"skill":"${skill}"`))).length;
}

function remoteBatches(): number {
  const base = path.join(remoteDir, 'snappy-agg');
  if (!existsSync(base)) return 0;
  return readdirSync(base).reduce((n, t) => n + readdirSync(path.join(base, t)).length, 0);
}

/** The demo stops with an error when the fleet does not do what the story says. */
function must(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

const fmt = (x: number | null | undefined) => (typeof x === 'number' ? x.toFixed(3) : '-');

/** Runs the cron's tick and tells where the rev's quorum stands. */
async function tick(rev: string, names: Record<string, string>): Promise<any> {
  const t = await json(null, ['run', 'tick']);
  const promoted = (t.reports.tick.quorum.promoted as { skill: string; rev_id: string }[]).find((p) => p.rev_id === rev);
  const revs = await json(null, ['ops', 'revs']);
  const s = revs.revs.find((r: { rev: string }) => r.rev === rev);
  const per = (s.tenants as { tenant: string; runs: number; mean: number; endorses: boolean }[]).map((x) => `${names[x.tenant] ?? x.tenant} ${x.runs} runs, mean ${fmt(x.mean)}${x.endorses ? ' (endorses)' : ''}`).join('; ');
  say(`   cron: snappy run tick -> ${SKILL}:${rev} ${s.state}: ${progressWords(s, s.thresholds)} [${per}]`);
  return { promoted, revs };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  writeFileSync(config, JSON.stringify({ regen: { agent: [process.execPath, AGENT] }, quorum: { watch: { graceMs: 0 } } }, null, 2));
  const keys = DEMO_KEYS;
  const ids = Object.fromEntries(await Promise.all(Object.entries(keys).map(async ([t, k]) => [t, await tenantIdOf(k)])));
  const laptop = await machine('acme-laptop', 'acme', keys.acme);
  const ci = await machine('acme-ci', 'acme', keys.acme);
  const globex = await machine('globex-box', 'globex', keys.globex);
  const initech = await machine('initech-box', 'initech', keys.initech);

  say('snappy demo: three tenants share one remote folder; no cloud, no model');
  say(`   remote: ${remote} (the embedded default); \`snappy run tick\` plays the Worker's minute cron`);
  say(`   tenant acme    (id ${ids.acme}): machines acme-laptop and acme-ci`);
  say(`   tenant globex  (id ${ids.globex}): machine globex-box`);
  say(`   tenant initech (id ${ids.initech}): machine initech-box`);
  say(`   regen agent: examples/regen-agent.mjs (prints a fixed revised page; a real one calls an LLM)`);
  say();

  say(`1. acme-laptop's eval harness logs 12 runs of "${SKILL}": 0.92, 0.90, 0.91, then it degrades to about 0.50`);
  logRuns(laptop, SKILL, [0.92, 0.9, 0.91, 0.5, 0.48, 0.5, 0.52, 0.49, 0.5, 0.47, 0.5, 0.5], T0);
  await snappy(laptop, ['run', 'aggregate']);
  must(existsSync(path.join(laptop.state, 'ready', `${SKILL}.ready`)), 'the PID loop dropped no marker');
  const marker = JSON.parse(readFileSync(path.join(laptop.state, 'ready', `${SKILL}.ready`), 'utf8'));
  say(`   acme-laptop: snappy run aggregate -> the PID loop drops the marker ready/${SKILL}.ready`);
  say(`      why: ${marker.reason}`);
  say(`   acme-laptop: evals.aggregate.ndjson now holds ${aggregateRows(laptop)} anonymized rows (hashed run ids, no prompts)`);

  const push = await json(laptop, ['run', 'push', '--auto']);
  const staged = existsSync(path.join(laptop.state, 'staging', SKILL)) ? readdirSync(path.join(laptop.state, 'staging', SKILL)) : [];
  must(staged.length === 1, `expected one staged rev of ${SKILL}, found ${staged.length}`);
  const rev = staged[0]!;
  const brief = readFileSync(path.join(laptop.state, 'log', 'regen-queue', `${SKILL}.acme-laptop.md`), 'utf8');
  const outcome = /^outcome:\s*(.+)$/m.exec(brief)?.[1];
  say(`   acme-laptop: snappy run push --auto -> hands the local brief .snappy/briefs/${SKILL}.md to the regen agent; shares only its summary, log/regen-queue/${SKILL}.acme-laptop.md`);
  say(`      brief outcome: ${outcome}; the agent's page is staged as rev ${rev}`);
  say(`   acme-laptop: the push sends it to the remote as snappy-os-staging/${SKILL}/${rev}/${SKILL}.md, and ships ${push.reports.push?.aggregate?.rows ?? 0} aggregate rows (${remoteBatches()} batch in the remote)`);
  must(!existsSync(path.join(laptop.state, 'ready', `${SKILL}.ready`)), 'the marker is still there after the rev was staged');
  must(existsSync(path.join(remoteDir, 'snappy-os-staging', SKILL, rev, `${SKILL}.md`)), 'the staged rev is not in the remote');
  say('   the marker is removed: the regen it asked for is done');
  say();

  const evaluators: [Machine, number[]][] = [
    [ci, [0.9, 0.93]],
    [globex, [0.88, 0.92]],
    [initech, [0.91, 0.9]],
  ];
  let promotion: { promoted: any; revs: any } | undefined;
  for (const [i, [m, scores]] of evaluators.entries()) {
    say(`${i + 2}. ${m.name} (tenant ${m.tenant}) evaluates the staged rev`);
    await snappy(m, ['run', 'pull']);
    must(existsSync(path.join(m.state, 'staging', SKILL, rev, `${SKILL}.md`)), `${m.name}'s pull did not bring the staged rev`);
    say(`   ${m.name}: snappy run pull -> brings staging/${SKILL}/${rev}/${SKILL}.md; its aggregate has ${aggregateRows(m)} fleet rows`);
    const before = aggregateRows(m, `${SKILL}:${rev}`);
    logRuns(m, `${SKILL}:${rev}`, scores, T0 + 3_600_000 * (i + 1));
    say(`   ${m.name}: the eval harness runs the rev twice and logs skill "${SKILL}:${rev}" with scores ${scores.join(', ')}`);
    await snappy(m, ['run', 'push', '--auto']);
    say(`   ${m.name}: snappy run push --auto -> its evals.aggregate.ndjson grows from ${before} to ${aggregateRows(m, `${SKILL}:${rev}`)} rows of the rev; ${remoteBatches()} batches in the remote`);
    promotion = await tick(rev, Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name])));
    say();
  }

  const row = promotion?.promoted;
  const last = promotion?.revs.last_quorum_promotion;
  if (!row || !last || last.rev_id !== rev) throw new Error(`the rev ${rev} was not promoted: ${JSON.stringify(promotion?.revs)}`);
  const canonical = readFileSync(path.join(remoteDir, 'snappy-os', 'skills', SKILL, `${SKILL}.md`), 'utf8');
  say(`   the tick wrote the changelog entry snappy-os/changelog/${SKILL}/${String(row.seq).padStart(8, '0')}.json (by ${row.by}, ${row.tenants} tenants, ${row.runs} runs, mean ${fmt(row.mean)})`);
  say(`   and made snappy-os/skills/${SKILL}/ the rev's folder (${canonical.split('\n').length} lines); every tenant's next pull brings it:`);
  await snappy(globex, ['run', 'pull']);
  must(readFileSync(path.join(globex.state, 'canonical', SKILL, `${SKILL}.md`), 'utf8') === canonical, "globex-box's pull did not bring the canonical page");
  say(`   globex-box: snappy run pull -> canonical/${SKILL}/${SKILL}.md is the promoted page`);
  const st = await json(globex, ['status']);
  const fate = (st.decided as { ref: string; state: string }[]).find((d) => d.ref === `${SKILL}:${rev}`);
  must(fate?.state === 'promoted' && !(st.staged as { ref: string }[]).some((w) => w.ref === `${SKILL}:${rev}`), `globex-box's status still lists ${SKILL}:${rev} as waiting`);
  say(`   globex-box: snappy status -> ${SKILL}:${rev} promoted, no longer waiting for evaluation there`);
  say(`   last_quorum_promotion: ${JSON.stringify(last)}`);
  say(`promoted ${SKILL}:${rev} by quorum: ${row.tenants} tenants, ${row.runs} runs`);
  say();

  await watchAndRollBack(rev, [ci, globex, initech], Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name])));
  if (keep) say(`   (kept ${dir}: the remote is in remote/, each machine's state dir in <machine>/state; about ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/**
 * The promotion under watch: the evaluators adopt the page (their pull takes it, their next push
 * is the adoption), then their everyday runs of it fall below the floor, and the tick rolls it
 * back. Runs are logged at the time of the demo: the watch counts runs after each adoption.
 */
async function watchAndRollBack(rev: string, adopters: Machine[], names: Record<string, string>): Promise<void> {
  say(`5. ${SKILL}:${rev} is now under watch: every tenant's pull takes the page, and its next push of it is its adoption`);
  for (const m of adopters) {
    await snappy(m, ['run', 'pull']);
    await snappy(m, ['run', 'push']);
  }
  await json(null, ['run', 'tick']);
  let w = (await json(null, ['ops', 'watch'])).watches.find((x: { rev: string }) => x.rev === rev);
  must(w && w.adopted === adopters.length, `the tick did not see ${adopters.length} tenants adopt the page: ${JSON.stringify(w)}`);
  say(`   ${adopters.map((m) => m.name).join(', ')}: snappy run pull, then snappy run push -> each one's skills/${SKILL}.md is the promoted page`);
  say(`   cron: snappy run tick -> ${w.adopted} tenants adopted it; a tenant objects after ${w.thresholds.watchMinRuns} runs with a mean below the floor ${w.thresholds.floor} or more than ${w.thresholds.margin} below its own baseline`);
  say(`   (the demo sets quorum.watch.graceMs to 0; by default runs count from 15 minutes after the adoption)`);
  say();
  const scores: number[][] = [
    [0.45, 0.4, 0.42, 0.38, 0.44, 0.4, 0.41, 0.43, 0.39, 0.42],
    [0.5, 0.44, 0.46, 0.41, 0.47, 0.43, 0.45, 0.42, 0.48, 0.44],
    [0.4, 0.36, 0.39, 0.42, 0.37, 0.41, 0.35, 0.4, 0.38, 0.39],
  ];
  let rolled: any;
  for (const [i, m] of adopters.entries()) {
    const from = Date.now() + 1000;
    logRuns(m, SKILL, scores[i]!, from - (from % 60_000) + 60_000);
    await snappy(m, ['run', 'push']);
    const t = await json(null, ['run', 'tick']);
    rolled = (t.reports.tick.quorum.rolledBack as { rev_id: string }[]).find((e) => e.rev_id === rev);
    const status = await json(null, ['ops', 'watch']);
    w = status.watches.find((x: { rev: string }) => x.rev === rev) ?? w;
    const per = (w.tenants as { tenant: string; state: string; runs: number; mean: number | null }[]).map((x) => `${names[x.tenant] ?? x.tenant} ${x.state}, ${x.runs} runs, mean ${fmt(x.mean)}`).join('; ');
    say(`${i + 6}. ${m.name} logs 10 everyday runs of "${SKILL}" with the new page, mean ${fmt(scores[i]!.reduce((a, b) => a + b, 0) / 10)}, and pushes them`);
    say(rolled ? `   cron: snappy run tick -> rolled back: 3 tenants object with ${rolled.runs} runs` : `   cron: snappy run tick -> ${tenantsWords(w.objecting, w.thresholds.minTenants, 'object')} [${per}]`);
  }
  must(rolled, `${SKILL}:${rev} was not rolled back`);
  say(`   the tick appended the changelog entry snappy-os/changelog/${SKILL}/${String(rolled.seq).padStart(8, '0')}.json (action rollback, by ${rolled.by}); the page replaced no earlier canonical, so ${SKILL}'s canonical is withdrawn (an earlier one would be restored byte for byte)`);
  say(`   ${SKILL}:${rev} is marked: the quorum never promotes it again unless an operator runs snappy ops clear ${SKILL} ${rev}`);
  const again = await json(null, ['run', 'tick']);
  must(!again.reports.tick.quorum.rolledBack.length && !again.reports.tick.quorum.promoted.length, 'a second tick changed something');
  say('   cron: snappy run tick again -> nothing more: a rollback happens once');
  await snappy(adopters[1]!, ['run', 'pull']);
  must(!existsSync(path.join(adopters[1]!.state, 'canonical', SKILL, `${SKILL}.md`)), `${adopters[1]!.name}'s pull kept the withdrawn canonical page`);
  say(`   ${adopters[1]!.name}: snappy run pull -> canonical/${SKILL}/ is gone, as on the remote`);
  const st = await snappy(null, ['status']);
  for (const l of st.stdout.split('\n').filter((x) => /^(watch:|  rolled back)/.test(x))) say(`   snappy status: ${l.trim()}`);
  const lastRb = (await json(null, ['ops', 'watch'])).last_quorum_rollback;
  say(`   last_quorum_rollback: ${JSON.stringify(lastRb)}`);
  say(`rolled back ${SKILL}:${rev} by ${rolled.by}: ${rolled.tenants} tenants, ${rolled.runs} runs`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  if (!keep) process.stderr.write(`(rerun with --keep to look at ${dir})\n`);
  process.exitCode = 1;
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
