import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectExit, sandbox } from './_util.ts';

test('concurrent `snappy eval` writers never tear a line, and the PID loop counts every row exactly once', async () => {
  const sb = sandbox();
  const WRITERS = 4;
  const EACH = 3;
  // A long skill name makes each line bigger, so a torn write would have room to show.
  const skill = `concurrent-${'x'.repeat(100)}`;
  const writer = async (w: number) => {
    for (let i = 0; i < EACH; i++) {
      const r = await sb.run(['eval', '--skill', skill, '--score', String((w * EACH + i) / 100), '--run-id', `w${w}-i${i}`, '--cost-usd', '0.015', '-q']);
      expectExit(r, 0, `writer ${w} eval ${i}`);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  const text = sb.read('log/evals.ndjson');
  assert.ok(text.endsWith('\n'), 'the log does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  assert.is(lines.length, WRITERS * EACH);
  const ids = new Set<string>();
  for (const [n, line] of lines.entries()) {
    let row: { run_id: string; skill: string; score: number };
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`line ${n + 1} is torn: ${line}`);
    }
    assert.is(row.skill, skill);
    ids.add(row.run_id);
  }
  assert.is(ids.size, WRITERS * EACH, 'a row is missing or doubled');
  const st = await sb.status();
  assert.is(st.skills[skill]!.runs, WRITERS * EACH, 'afterEval did not fire exactly once per row');
});

test.run();
