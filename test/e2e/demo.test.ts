// `npm run demo` as a user runs it: a real process, the real CLI underneath, ending with the
// promotion, leaving nothing behind. (One run: the demo takes ~25 s of a 2-core machine.)
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
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const demoDirs = () => new Set(readdirSync(os.tmpdir()).filter((n) => n.startsWith('snappy-demo-')));

test('the demo tells the loop step by step and ends with the promotion; it leaves no temp folder', async () => {
  const before = demoDirs();
  const r = await runDemo();
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1]!;
  const m = /^promoted triage:([0-9a-f]{12}) by quorum: 3 tenants, 6 runs$/.exec(last);
  assert.ok(m, `the final line is the promotion: ${last}`);
  const rev = m![1]!;
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
