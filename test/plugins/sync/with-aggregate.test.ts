import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, readTree, tenantOf } from './fixtures.ts';

const CANARY = 'CANARY-agg-91c2';

test('push --auto with the real aggregate plugin: each tenant ships its rows, pulls the others\', raw fields never leave', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const tenants = ['agg-key-1', 'agg-key-2', 'agg-key-3'];
  const ms = tenants.map((key, i) => {
    const dir = tmpDir('snappy-wa-');
    const config = path.join(dir, 'snappy.config.json');
    writeFileSync(config, JSON.stringify({ builtins: ['aggregate', 'sync'] }));
    const m = machine({ id: `host${i}`, key, remote: `file://${remoteDir}`, config, dir });
    return m;
  });
  for (const [i, m] of ms.entries()) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(m.state, 'log'), { recursive: true });
    writeFileSync(path.join(m.state, 'log/evals.ndjson'), `{"ts":${1700000000000 + i},"skill":"foo","score":0.9,"run_id":"run-${i}","ok":true,"prompt":"${CANARY}"}\n`);
    const res = await m.run(['run', 'push', '--auto']);
    assert.is(res.code, 0, res.stderr);
  }
  // The first tenant pulls again and now holds every tenant's row once.
  for (let round = 0; round < 2; round++) assert.is((await ms[0]!.run(['run', 'pull'])).code, 0);
  const union = readFileSync(path.join(ms[0]!.state, 'log/evals.aggregate.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ids = await Promise.all(tenants.map(tenantOf));
  assert.equal(union.map((r) => r.tenant).sort(), [...ids].sort());
  for (const [key, body] of Object.entries(readTree(remoteDir))) assert.not.ok(body.includes(CANARY) || body.includes('run-0'), `raw data reached ${key}`);
});

test.run();
