// What each layer may import: core/ is bundled into the Worker and run by the CLI, so it
// names neither Node nor Cloudflare; the Worker's bindings are typed by
// @cloudflare/workers-types, through one file of type re-exports.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.ts';

function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm), ...src.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
}

const tsIn = (dir: string) => readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, dir, f));

test('core/ imports only core, domain, zod and tapable: no node:, no Cloudflare types', () => {
  const files = tsIn('core');
  assert.ok(files.length > 5, 'core/ has its files');
  for (const f of files) {
    for (const spec of importsOf(f)) {
      const ok = spec.startsWith('./') || spec.startsWith('../domain/') || spec === 'zod' || spec === 'tapable';
      assert.ok(ok, `${path.relative(ROOT, f)} imports "${spec}"`);
    }
  }
});

test('the Worker binding adapters and Env take their types from @cloudflare/workers-types', () => {
  const typesFile = readFileSync(path.join(ROOT, 'adapters', 'workers-types.ts'), 'utf8');
  assert.match(typesFile, /from '@cloudflare\/workers-types\/latest\/index\.ts'/);
  for (const f of ['adapters/kv-binding.ts', 'adapters/r2-blob-store.ts', 'worker/env.ts']) {
    const specs = importsOf(path.join(ROOT, f));
    assert.ok(specs.some((s) => s.endsWith('/workers-types.ts')), `${f} imports adapters/workers-types.ts`);
    assert.not.match(readFileSync(path.join(ROOT, f), 'utf8'), /interface \w+Like\b/, `${f} declares no stand-in binding interface`);
  }
});

test.run();
