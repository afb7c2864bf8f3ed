import { spawnSync } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.ts';

/** What the package is made from: the sources, the build script and its configs. */
const TREE = ['bin', 'core', 'domain', 'adapters', 'plugins', 'lifecycle', 'cli', 'worker', 'state/lint', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

/**
 * A copy of the working tree at `src` (plus `extra` files), its node_modules linked to the
 * repo's, so a test builds and runs its own dist/ and never touches the repo's; with `build`,
 * built (JS only) before it returns.
 */
export function copyTree(src: string, opts: { build?: boolean; extra?: string[] } = {}): string {
  for (const p of [...TREE, ...(opts.extra ?? [])]) cpSync(path.join(ROOT, p), path.join(src, p), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  if (opts.build) {
    const build = spawnSync(process.execPath, [path.join(src, 'scripts', 'build.mjs'), '--js-only'], { cwd: src, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
  }
  return src;
}
