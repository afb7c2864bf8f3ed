import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest, distance } from '../../cli/suggest.ts';

test('distance counts a swap of neighbours as one edit', () => {
  assert.is(distance('stauts', 'status'), 1);
  assert.is(distance('pusj', 'push'), 1);
  assert.is(distance('abc', 'abc'), 0);
  assert.is(distance('', 'abc'), 3);
});

test('closest finds typos, dropped dashes and prefixes, and nothing for a word far from all', () => {
  assert.is(closest('stauts', ['run', 'eval', 'status', 'lint', 'watch', 'ops']), 'status');
  assert.is(closest('dryrun', ['auto', 'dry-run', 'json']), 'dry-run');
  assert.is(closest('cost', ['skill', 'score', 'run-id', 'ok', 'cost-usd']), 'cost-usd');
  assert.is(closest('pusj', ['aggregate', 'ingest', 'pull', 'push', 'regen', 'tick']), 'push');
  assert.is(closest('frobnicate', ['run', 'eval', 'status', 'lint', 'watch', 'ops']), undefined);
  assert.is(closest('x', ['json', 'quiet']), undefined);
});

test.run();
