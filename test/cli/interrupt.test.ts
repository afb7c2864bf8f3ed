import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BIN, collect, runCli, spawnCli, type CliResult } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const KEY = 'interrupt-key-4e8a1c7f3b9d2e6a0c5f8b1d7e3a9c2f';
const TENANT = createHash('sha256').update(KEY).digest('hex').slice(0, 12);
const PAGES = 3000;
/** Enough for the progress line, which shows after a second of transfers, to appear. */
const TERMINAL_PAGES = 10_000;

/** A state with `pages` skill pages, the sync plugin only, and a file remote. */
function project(pages: number): { dir: string; state: string; remote: string; args: string[]; env: Record<string, string> } {
  const dir = tmpDir('snappy-interrupt-');
  const state = path.join(dir, 'state');
  mkdirSync(path.join(state, 'skills'), { recursive: true });
  for (let i = 0; i < pages; i++) writeFileSync(path.join(state, 'skills', `s${i}.md`), `---\nname: s${i}\n---\npage ${i}\n`);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'] }));
  const remote = path.join(dir, 'remote');
  return { dir, state, remote, args: ['--state', state, '--config', config, '--remote', `file://${remote}`], env: { SNAPPY_MACHINE_ID: 'm1', SNAPPY_MASTER_KEY: KEY } };
}

const count = (dir: string): number => (existsSync(dir) ? readdirSync(dir).length : 0);

/** Every file under `dir` whose name ends in .tmp, or that sits in a `.tmp` folder. */
function temps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => (f.endsWith('.tmp') || f.split(path.sep).includes('.tmp')) && statSync(path.join(dir, f)).isFile());
}

/** Resolves once `done()` holds; fails if the child exits first (it finished before it could be interrupted). */
async function when(child: ChildProcess, done: () => boolean, what: string): Promise<void> {
  let exited = false;
  child.once('exit', () => (exited = true));
  while (!done()) {
    if (exited) throw new Error(`the process exited before ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function oneJson(r: CliResult): any {
  const out = JSON.parse(r.stdout); // throws unless stdout is exactly one JSON document
  return out;
}

test('SIGTERM during a push: it stops at a safe point, says what was sent in one line, leaves no temp file or lock; a rerun sends the rest', async () => {
  const p = project(PAGES);
  const pages = path.join(p.remote, 'snappy-tenants', TENANT, 'skills');
  const child = spawnCli(['run', 'push', '--json', ...p.args], { cwd: p.dir, env: p.env });
  const result = collect(child);
  await when(child, () => count(pages) >= 50, 'pages reached the remote');
  child.kill('SIGTERM');
  const r = await result;
  assert.is(r.code, 143, `exit 143 expected, got ${r.code} (${r.signal})\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.is(lines.length, 1, r.stderr);
  const m = new RegExp(`^snappy: SIGTERM: push stopped: (\\d+) of ${PAGES} files sent and recorded; run the same command again to resume$`).exec(lines[0]!);
  assert.ok(m, lines[0]);
  const sent = Number(m![1]);
  assert.ok(sent < PAGES, 'it stopped before the end');
  const out = oneJson(r);
  assert.equal([out.ok, out.exitCode, out.error.code, out.error.step, out.error.details.signal, out.error.details.sent], [false, 143, 'E_INTERRUPTED', 'push', 'SIGTERM', sent]);
  assert.is(count(pages), sent, 'every file said sent is on the remote, and no other');
  assert.equal(temps(p.remote), [], "nothing left in the remote's .tmp");
  assert.equal(temps(p.state), []);
  assert.not.ok(existsSync(path.join(p.state, '.snappy', 'lock')), 'the lock is released');

  const again = await runCli(['run', 'push', '--json', ...p.args], { cwd: p.dir, env: p.env });
  assert.is(again.code, 0, again.stderr);
  const rep = oneJson(again).reports.push;
  assert.is(rep.files, PAGES - sent, 'the rerun sends only the rest');
  assert.is(rep.unchanged, sent);
  assert.is(count(pages), PAGES);
});

test('SIGINT during a pull: what was fetched is saved and said; a rerun fetches only the rest', async () => {
  const src = project(PAGES);
  const seed = await runCli(['run', 'push', ...src.args], { cwd: src.dir, env: src.env });
  assert.is(seed.code, 0, seed.stderr);
  // Another machine of the tenant, empty, pulls them all.
  const dst = project(0);
  const args = ['--state', dst.state, '--config', dst.args[3]!, '--remote', `file://${src.remote}`];
  const env = { ...dst.env, SNAPPY_MACHINE_ID: 'm2' };
  const skills = path.join(dst.state, 'skills');
  const child = spawnCli(['run', 'pull', ...args], { cwd: dst.dir, env });
  const result = collect(child);
  await when(child, () => count(skills) >= 50, 'pages were pulled');
  child.kill('SIGINT');
  const r = await result;
  assert.is(r.code, 130, `exit 130 expected, got ${r.code} (${r.signal})\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.is(lines.length, 1, r.stderr);
  const m = new RegExp(`^snappy: SIGINT: pull stopped: (\\d+) files fetched and saved, (\\d+) of the ${PAGES} changed not yet; run the same command again to resume$`).exec(lines[0]!);
  assert.ok(m, lines[0]);
  const fetched = Number(m![1]);
  assert.ok(Number(m![2]) > 0, 'it stopped before the end');
  assert.is(count(skills), fetched);
  assert.equal(temps(dst.state), [], 'no half-written file in the state');
  assert.not.ok(existsSync(path.join(dst.state, '.snappy', 'lock')), 'the lock is released');

  const again = await runCli(['run', 'pull', '--json', ...args], { cwd: dst.dir, env });
  assert.is(again.code, 0, again.stderr);
  const rep = oneJson(again).reports.pull;
  assert.is(rep.files, PAGES - fetched, 'the rerun fetches only the rest');
  assert.is(rep.unchanged, fetched);
  assert.is(count(skills), PAGES);
});

test('a second Ctrl-C quits at once, even with a transfer hanging, and still releases the lock', async () => {
  // An S3 endpoint that accepts requests and never answers: the first Ctrl-C waits for the
  // transfers in flight, which never end, so only the second can end the process.
  let seen = false;
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('data', () => (seen = true));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const p = project(20);
    const port = (server.address() as net.AddressInfo).port;
    const args = ['--state', p.state, '--config', p.args[3]!, '--remote', 's3://hang/p'];
    const env = { ...p.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'us-east-1' };
    const child = spawnCli(['run', 'push', '--json', ...args], { cwd: p.dir, env });
    const result = collect(child);
    await when(child, () => seen, 'a request reached the endpoint');
    assert.ok(existsSync(path.join(p.state, '.snappy', 'lock')), 'the push holds the lock');
    // Signals sent while one is still pending merge into one: keep pressing until it quits.
    child.kill('SIGINT');
    const press = setInterval(() => child.kill('SIGINT'), 100);
    const r = await result.finally(() => clearInterval(press));
    assert.is(r.code, 130, `exit 130 expected, got ${r.code} (${r.signal})\n${r.stderr}`);
    assert.match(r.stderr, 'snappy: SIGINT again: quit at once');
    const out = oneJson(r);
    assert.equal([out.exitCode, out.error.code], [130, 'E_INTERRUPTED']);
    assert.not.ok(existsSync(path.join(p.state, '.snappy', 'lock')), 'the lock is released');
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('Ctrl-C typed at a terminal: the notice, the progress line cleared, one line of what was done, exit 130', async () => {
  if (spawnSync('script', ['--version']).status !== 0) {
    console.log('    SKIPPED: util-linux `script` is not installed; the terminal Ctrl-C test did not run');
    return;
  }
  const p = project(TERMINAL_PAGES);
  const cmd = [process.execPath, BIN, 'run', 'push', ...p.args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // `script` gives the CLI a terminal; ^C on it is turned into SIGINT by the terminal itself.
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: p.dir, env: { ...process.env, ...p.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout!.on('data', (d) => (screen += d));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await when(child, () => new RegExp(`push: \\d+/${TERMINAL_PAGES}`).test(screen), 'the progress line showed');
  child.stdin!.write('\x03');
  const code = await exit;
  assert.is(code, 130, screen);
  assert.match(screen, 'stopping after the work in flight (Ctrl-C again to quit at once)');
  const final = screen.lastIndexOf('snappy: SIGINT: push stopped: ');
  assert.ok(final > 0, screen);
  assert.match(screen.slice(final), new RegExp(`^snappy: SIGINT: push stopped: \\d+ of ${TERMINAL_PAGES} files sent and recorded; run the same command again to resume\r?\n$`));
  const lastDraw = screen.lastIndexOf('push: ');
  assert.ok(lastDraw < final, 'no progress drawn after the last line');
  assert.match(screen.slice(lastDraw, final), /\r\x1b\[K$/, 'the progress line is cleared before the last line');
  assert.equal(temps(p.remote), []);
  assert.not.ok(existsSync(path.join(p.state, '.snappy', 'lock')));
});

test.run();
