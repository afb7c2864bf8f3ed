// A `.ts` plugin in a project without `"type": "module"` is compiled as CommonJS, so its
// `import ... from 'snappy-os'` becomes a require(): the package's `default` export condition
// serves it (Node 20.19+ requires ES modules), the same module instance the CLI imports. In a
// copy of the tree with a build of its own, linked into the project's node_modules as an
// install would put it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.ts';
import { copyTree } from '../helpers/tree-copy.ts';

const work = tmpDir('snappy-cjs-plugin-');
const src = path.join(work, 'src');
const project = path.join(work, 'project');

test.before(() => {
  copyTree(src, { build: true });
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  mkdirSync(path.join(project, 'state'));
  symlinkSync(src, path.join(project, 'node_modules', 'snappy-os'), 'dir');
  // No "type": CommonJS, as `npm init -y` leaves it.
  writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'cjs-project', private: true })}\n`);
  writeFileSync(
    path.join(project, 'stamp.ts'),
    `import { definePlugin, z } from 'snappy-os';
export default definePlugin({
  name: 'stamp',
  options: z.object({ word: z.string() }).strict(),
  apply(hooks, ctx) {
    hooks.beforePush.tap('stamp', () => ctx.log.info('stamp: ' + ctx.options.word));
  },
});
`,
  );
  writeFileSync(path.join(project, 'snappy.config.json'), `${JSON.stringify({ builtins: ['sync'], plugins: [['./stamp.ts', { word: 'from-commonjs' }]] })}\n`);
});

function push(): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SNAPPY_')) env[k] = v;
  const r = spawnSync(process.execPath, [path.join(project, 'node_modules', 'snappy-os', 'bin', 'snappy.cjs'), 'run', 'push'], {
    cwd: project,
    encoding: 'utf8',
    env: { ...env, SNAPPY_MACHINE_ID: 'cjs-test' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('a .ts plugin in a CommonJS project imports the package and runs its taps', () => {
  const r = push();
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /\[stamp\] stamp: from-commonjs/);
});

test("its options are checked by the package's own zod: a bad one is a config error naming the plugin", () => {
  writeFileSync(path.join(project, 'snappy.config.json'), `${JSON.stringify({ builtins: ['sync'], plugins: [['./stamp.ts', { word: 7 }]] })}\n`);
  const r = push();
  assert.is(r.status, 2, r.out);
  assert.match(r.out, /stamp/);
  assert.match(r.out, /word/);
});

test.run();
