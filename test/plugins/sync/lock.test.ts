import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, manyFiles, readTree, writeTree } from './fixtures.ts';

test('two pushes at once on one state dir: both succeed (the second waits for the lock), nothing is sent twice', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const m = machine({ id: 'k1', key: 'lock-tenant', remote: `file://${remoteDir}` });
  const files = manyFiles(300, 'l');
  writeTree(m.state, files);
  const [a, b] = await Promise.all([m.json(['run', 'push']), m.json(['run', 'push'])]);
  assert.is(a.res.code, 0, a.res.stderr);
  assert.is(b.res.code, 0, b.res.stderr);
  assert.is(a.out.reports.push.files + b.out.reports.push.files, Object.keys(files).length);
  assert.ok(a.out.reports.push.files === 0 || b.out.reports.push.files === 0, 'both pushes sent files');
  // Plus the staged rev's frozen manifest.
  assert.is(Object.keys(readTree(remoteDir)).length, Object.keys(files).length + 1);
});

test.run();
