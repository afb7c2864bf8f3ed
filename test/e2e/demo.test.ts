// `npm run demo` as a user runs it: a real process, the real CLI underneath, a promotion and then
// its rollback, leaving nothing behind. (One run: the demo takes ~45 s of a loaded 2-core machine.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.ts';

function runDemo(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_') && v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'demo.ts'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const demoDirs = () => new Set(readdirSync(os.tmpdir()).filter((n) => n.startsWith('snappy-demo-')));

test('the demo tells the loop step by step: the promotion, then the same page regressing under watch and rolled back once; it leaves no temp folder', async () => {
  const before = demoDirs();
  const r = await runDemo();
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  const promoted = lines.map((l) => /^promoted triage:([0-9a-f]{12}) by quorum: 3 tenants, 6 runs$/.exec(l)).find(Boolean);
  assert.ok(promoted, `a line tells the promotion:\n${r.stdout}`);
  const rev = promoted![1]!;
  assert.is(lines[lines.length - 1], `rolled back triage:${rev} by rollback: 3 tenants, 30 runs`, 'the final line is the rollback of the same rev');
  for (const step of ['1 of 3 tenants objects', '2 of 3 tenants object', 'rolled back: 3 tenants object with 30 runs', "triage's canonical is withdrawn", 'nothing more: a rollback happens once', 'canonical/triage/ is gone']) {
    assert.ok(r.stdout.includes(step), `the story tells: ${step}`);
  }
  const lqr = lines.find((l) => l.includes('last_quorum_rollback:'));
  const rb = JSON.parse(lqr!.slice(lqr!.indexOf('{')));
  assert.equal([rb.skill, rb.rev_id, rb.restored, rb.by, rb.tenants, rb.runs], ['triage', rev, null, 'rollback', 3, 30]);
  for (const step of ['ready/triage.ready', `staged as rev ${rev}`, `snappy-os-staging/triage/${rev}/triage.md`, 'grows from 2 to 4 rows of the rev', 'pending: 1 of 3 tenants endorses; 2 runs, 5 needed', 'pending: 2 of 3 tenants endorse; 4 runs, 5 needed', `triage:${rev} promoted: 3 of 3 tenants endorse; 6 runs, 5 needed`, `snappy status -> triage:${rev} promoted, no longer waiting for evaluation there`]) {
    assert.ok(r.stdout.includes(step), `the story tells: ${step}`);
  }
  assert.not.match(r.stdout, /\d+\/\d+ (runs|tenants)/, 'progress is told in words, never as a fraction like 6/5');
  const lqp = lines.find((l) => l.includes('last_quorum_promotion:'));
  assert.ok(lqp, 'it shows last_quorum_promotion');
  const promo = JSON.parse(lqp!.slice(lqp!.indexOf('{')));
  assert.equal([promo.skill, promo.rev_id, promo.tenants, promo.runs], ['triage', rev, 3, 6]);
  assert.not.ok(r.stdout.includes('private prompt text'), 'no raw eval field is shown as shared');
  const left = [...demoDirs()].filter((d) => !before.has(d));
  assert.equal(left, [], 'the temp folder is removed');
});

test.run();
