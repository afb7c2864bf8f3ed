import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isGatedSkill, quorumOptions } from '../../../plugins/quorum/options.ts';

const gated = (globs: string[], skill: string) => isGatedSkill(quorumOptions.parse({ manualReview: globs }), skill);

test('quorum.manualReview takes braces, classes and ! exclusions on skill names', () => {
  assert.ok(gated(['{deploy,release}-*'], 'deploy-prod'));
  assert.ok(gated(['{deploy,release}-*'], 'release-2'));
  assert.not.ok(gated(['{deploy,release}-*'], 'triage'));
  assert.ok(gated(['v[12]-*'], 'v2-api'));
  assert.not.ok(gated(['v[12]-*'], 'v3-api'));
  assert.ok(gated(['deploy-*', '!deploy-docs'], 'deploy-prod'));
  assert.not.ok(gated(['deploy-*', '!deploy-docs'], 'deploy-docs'));
  assert.not.ok(gated([], 'deploy-prod'));
});

test('a manual-review glob that cannot compile is a config error naming its place in the list', () => {
  const r = quorumOptions.safeParse({ manualReview: ['deploy-*', 'release-[12'] });
  assert.not.ok(r.success);
  const issue = r.error!.issues[0]!;
  assert.equal(issue.path, ['manualReview', 1]);
  assert.match(issue.message, /not a usable glob: Missing closing: "\]"/);
});

test.run();
