import { createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AGG_KEYS, checkAggLine } from '../../../domain/agg-row.ts';
import { RunIdHmac } from '../../../plugins/aggregate/run-id-hmac.js';
import { inProcess } from './inproc.ts';
import os from 'node:os';
import path from 'node:path';
import { ingestEvalLog } from '../../../lifecycle/ingest.ts';
import { localRun } from '../../helpers/run.ts';
import type { ReadyEvent } from '../../../core/hooks.ts';
import { createRunner } from '../../../core/runner.ts';
import { parsePage } from '../../../domain/frontmatter.ts';
import { tenantIdOf } from '../../../domain/hash.ts';
import aggregatePlugin from '../../../plugins/aggregate/index.ts';
import { Dispatcher } from '../../../plugins/regen/dispatch.ts';
import regenPlugin, { regenOptionsSchema } from '../../../plugins/regen/index.ts';
import { tmpDir } from '../../helpers/tmp.ts';
import { propertyParams } from '../../helpers/seed.ts';

const params = propertyParams('aggregate/privacy', 0x5eed_1005);

const KEY = 'privacy-key';
// Private values are drawn from characters no aggregate row can contain (schema keys, hex,
// ISO times and the skill names used here never use them): if any of them shows up in the
// output, a private field leaked.
const PRIVATE = 'GHJKMNPQRSWXY!#$%&*@^~|<>?\u00e9\u2603\u4e2d'.split('');
const privateString = fc.string({ unit: fc.constantFrom(...PRIVATE), minLength: 1, maxLength: 40 });
const privateValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, privateString, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(privateString, tie('v'), { maxKeys: 3 })),
})).v;
const evalRow = fc.record({
  ts: fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())),
  skill: fc.constantFrom('summarize', 'triage', 'summarize:0123456789ab'),
  score: fc.double({ min: 0, max: 1, noNaN: true }),
  run_id: privateString,
  ok: fc.boolean(),
  cost: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
  extra: fc.dictionary(privateString, privateValue, { maxKeys: 4 }),
});

test('property: no byte of a non-schema field, and no raw run_id, ever reaches the aggregate', async () => {
  const allowed = new Set('{}[]":,_-.+0123456789abcdefghijklmnopqrstuvwxyzTZ'.split(''));
  await fc.assert(
    fc.asyncProperty(fc.array(evalRow, { minLength: 1, maxLength: 15 }), async (rows) => {
      const t = await inProcess(KEY);
      const text = rows.map((r) => JSON.stringify({ ...r.extra, ts: r.ts, skill: r.skill, score: r.score, run_id: r.run_id, ok: r.ok, ...(r.cost === undefined ? {} : { cost_usd: r.cost }) })).join('\n') + '\n';
      await fs.writeFile(t.log, text);
      await t.ingest();
      const out = await fs.readFile(t.agg, 'utf8');
      for (const ch of out) if (ch !== '\n') assert.ok(allowed.has(ch), `byte ${JSON.stringify(ch)} is not one the schema can produce: ${out}`);
      const lines = out.split('\n').filter(Boolean);
      assert.is(lines.length, rows.length);
      lines.forEach((l, i) => {
        const c = checkAggLine(l);
        assert.ok(c.ok, l);
        assert.equal(Object.keys(JSON.parse(l)), AGG_KEYS.filter((k) => k !== 'cost_usd_cents' || rows[i]!.cost !== undefined));
        assert.is(JSON.parse(l).run_id, createHmac('sha256', KEY).update(rows[i]!.run_id).digest('hex').slice(0, 16));
      });
    }),
    params(150),
  );
});

/** The aggregate and regen plugins in this process on a fresh state dir, as `snappy run regen` wires them. */
async function regenInProcess(masterKey: string) {
  const stateDir = tmpDir('snappy-brief-ip-');
  await fs.mkdir(path.join(stateDir, 'log'), { recursive: true });
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const runner = createRunner({ plugins: [{ plugin: aggregatePlugin }, { plugin: regenPlugin, options: {} }], runtime: 'node', log: quiet });
  const identity = { machine: 'm-briefprop0', masterKey, tenant: await tenantIdOf(masterKey) };
  return {
    stateDir,
    ingest: () => ingestEvalLog(localRun(stateDir, identity), runner),
    dispatch: (ev: Omit<ReadyEvent, 'settle'>) => new Dispatcher(regenOptionsSchema.parse({}), quiet).handle(ev, { stateDir, machine: identity.machine }),
  };
}

// Characters of PRIVATE in a row: the brief's own text never has three in a row, so any
// private value of three or more characters that leaked would show as one.
const PRIVATE_RUN = new RegExp(`[${PRIVATE.join('').replace(/[\\\]^-]/g, '\\$&')}]{3,}`, 'u');
const longPrivate = fc.string({ unit: fc.constantFrom(...PRIVATE), minLength: 3, maxLength: 40 });
const briefRow = fc.record({
  ts: fc.oneof(fc.integer({ min: 1e12, max: 4e12 }), fc.date({ min: new Date(1e12), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())),
  skill: fc.constantFrom('summarize', 'summarize', 'summarize:0123456789ab'),
  score: fc.double({ min: 0, max: 1, noNaN: true }),
  run_id: longPrivate,
  ok: fc.boolean(),
  cost: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
  extra: fc.dictionary(longPrivate, longPrivate, { maxKeys: 3 }),
});
const hostWord = new RegExp(`(?<![A-Za-z0-9])${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'i');

test('property: the shared brief carries no private byte, no run id, no time of day and no score finer than 0.01; the page stays local', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(briefRow, { minLength: 1, maxLength: 30 }), longPrivate, fc.double({ min: -2, max: 2, noNaN: true }), async (rows, page, x) => {
      const t = await regenInProcess(KEY);
      const text = rows.map((r) => JSON.stringify({ ...r.extra, ts: r.ts, skill: r.skill, score: r.score, run_id: r.run_id, ok: r.ok, ...(r.cost === undefined ? {} : { cost_usd: r.cost }) })).join('\n') + '\n';
      await fs.writeFile(path.join(t.stateDir, 'log', 'evals.ndjson'), text);
      await fs.mkdir(path.join(t.stateDir, 'skills'), { recursive: true });
      await fs.writeFile(path.join(t.stateDir, 'skills', 'summarize.md'), `---\nname: summarize\n---\n${page}\n`);
      await t.ingest();
      // A marker whose snapshot holds exact figures and the exact time of a run, and a reason with private text.
      const at = new Date(typeof rows[0]!.ts === 'number' ? rows[0]!.ts : Date.parse(rows[0]!.ts)).toISOString();
      const snapshot = { runs: rows.length, runsSinceRegen: rows.length, filtered: x, error: x / 3, output: x / 7, p: x, i: -x, d: x / 11, setpoint: 0.8, on: 0.2, off: 0.1, at };
      await fs.mkdir(path.join(t.stateDir, 'ready'), { recursive: true });
      await fs.writeFile(path.join(t.stateDir, 'ready', 'summarize.ready'), JSON.stringify({ skill: 'summarize', reason: page, snapshot }));
      const out = await t.dispatch({ skill: 'summarize', marker: 'ready/summarize.ready', snapshot, reason: `${page} ${rows[0]!.run_id}` });
      assert.is(out.outcome, 'no-agent');
      const shared = await fs.readFile(path.join(t.stateDir, 'log', 'regen-queue', 'summarize.m-briefprop0.md'), 'utf8');
      const local = await fs.readFile(path.join(t.stateDir, '.snappy', 'briefs', 'summarize.md'), 'utf8');
      assert.ok(local.includes(page), 'the local brief carries the page');
      const currentRuns = rows.filter((r) => r.skill === 'summarize').length;
      assert.is((parsePage(shared).data.local as { runs: number }).runs, currentRuns);
      const leak = PRIVATE_RUN.exec(shared);
      assert.not.ok(leak, `private characters in the shared brief: ${leak?.[0]}\n${shared}`);
      assert.not.ok(/\d{4}-\d\d-\d\dT\d\d/.test(shared), `a time of day in the shared brief:\n${shared}`);
      const numbers = shared.replace(/\b[0-9a-f]{12}\b/g, '');
      assert.not.ok(/\d\.\d{3,}/.test(numbers), `a number finer than 0.01 in the shared brief:\n${shared}`);
      assert.not.ok(/\d{6,}/.test(numbers), `a long number (an epoch time?) in the shared brief:\n${shared}`);
      assert.not.ok(hostWord.test(shared), 'the host name is in the shared brief');
      const agg = await fs.readFile(path.join(t.stateDir, 'log', 'evals.aggregate.ndjson'), 'utf8');
      for (const l of agg.split('\n').filter(Boolean)) assert.not.ok(shared.includes(JSON.parse(l).run_id), 'an aggregate run id is in the shared brief');
    }),
    { numRuns: 40 },
  );
});

test('property: the precomputed HMAC equals node:crypto for any key and message', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 150, unit: 'binary' }), fc.string({ maxLength: 200, unit: 'binary' }), (key, msg) => {
      assert.is(new RunIdHmac(key).hex16(msg), createHmac('sha256', key).update(msg).digest('hex').slice(0, 16));
    }),
    params(3000),
  );
});

test.run();
