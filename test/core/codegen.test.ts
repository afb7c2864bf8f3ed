import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/cli.ts';

// workerd allows code generation only while the module's top level runs. Node's
// --disallow-code-generation-from-strings forbids it from the start (so tapable cannot compile
// at all under it); the first test therefore revokes Function and eval right after the runner
// is built, which is workerd's rule, and the real flag serves as the control. The real rule
// itself is exercised in workerd by test/worker/scheduled.test.ts.
function runNode(script: string, flags: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const runNoCodegen = (script: string) => runNode(script, ['--disallow-code-generation-from-strings']);

test('hooks the runner compiled at build time run their taps after Function and eval are revoked', () => {
  const r = runNode(`
    import { z } from 'zod';
    z.config({ jitless: true });
    const { createRunner } = await import('./core/runner.ts');
    const { runTick } = await import('./lifecycle/tick.ts');
    const { definePlugin } = await import('./core/plugin.ts');
    const { FileBlobStore } = await import('./adapters/file-blob-store.ts');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // A real bucket: the tick checks its layout and records itself there.
    const blobs = new FileBlobStore(mkdtempSync(tmpdir() + '/snappy-codegen-'));
    const seen = [];
    const p = definePlugin({ name: 'probe', options: z.object({ n: z.number().default(2) }), apply(hooks, ctx) {
      hooks.onTick.tapPromise('probe', async (t) => { seen.push('tick:' + ctx.options.n); t.results.probe = true; });
      hooks.afterEval.tap('probe', (_run, e) => { seen.push('eval:' + e.skill); });
      hooks.beforePush.tapPromise('probe', async (plan) => ({ entries: [...plan.entries, { path: 'a', key: 'a', kind: 'x' }] }));
    } });
    const runner = createRunner({ plugins: [{ plugin: p, options: { n: 3 } }] });
    // From here on, as inside a workerd request: any code generation throws.
    const refuse = () => { throw new EvalError('Code generation from strings disallowed for this context'); };
    globalThis.Function = new Proxy(Function, { construct: refuse, apply: refuse });
    globalThis.eval = refuse;
    const kv = { get: async () => null, put: async () => {}, delete: async () => {}, list: async () => [] };
    const res = await runTick(runner.hooks, { budgetMs: 1000, blobs, kv, log: console, runtime: 'node' });
    await runner.each('afterEval', {}, [{ skill: 's', ts: 0, score: 1, runId: 'r', ok: true, generation: 'g', offset: 0, line: 1 }]);
    const plan = await runner.hooks.beforePush.promise({ entries: [] }, { dryRun: false, veto() { throw new Error('no'); } });
    let direct = 'allowed';
    try { new Function('return 1'); } catch (e) { direct = e.name; }
    (await import('node:fs')).rmSync(blobs.root, { recursive: true, force: true });
    console.log(JSON.stringify({ seen, res, entries: plan.entries.length, direct }));
  `);
  assert.is(r.code, 0, `child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.is(out.direct, 'EvalError', 'the flag must really forbid code generation, or this test proves nothing');
  assert.equal(out.seen, ['tick:3', 'eval:s']);
  assert.equal(out.res, { probe: true });
  assert.is(out.entries, 1);
});

test('a tapable hook first called at run time needs code generation: it fails under the real flag (the control)', () => {
  const r = runNoCodegen(`
    const { AsyncSeriesHook } = await import('tapable');
    const h = new AsyncSeriesHook(['x']);
    h.tapPromise('p', async () => {});
    try { await h.promise(1); console.log('ran'); } catch (e) { console.log(e.name); }
  `);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'EvalError');
});

test('zod in jitless mode parses under the real --disallow-code-generation-from-strings flag', () => {
  const r = runNoCodegen(`
    const { z } = await import('zod');
    z.config({ jitless: true });
    const { checkAggLine } = await import('./domain/agg-row.ts');
    const good = checkAggLine(JSON.stringify({ _v: 1, ts: '2026-01-01T00:00:00.000Z', skill: 's', score: 0.5, run_id: '0123456789abcdef', tenant: '0123456789ab', ok: true }));
    const bad = checkAggLine(JSON.stringify({ _v: 1, extra: 1 }));
    console.log(JSON.stringify({ good: good.ok, bad: bad.ok ? '' : bad.reason }));
  `);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim());
  assert.is(out.good, true);
  assert.match(out.bad, 'unknown key "extra"');
});

test.run();
