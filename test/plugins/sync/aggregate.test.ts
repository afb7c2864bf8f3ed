import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpDir } from '../../helpers/tmp.ts';
import { machine, readTree, tenantOf, writeTree } from './fixtures.ts';

/**
 * A stand-in aggregate plugin (a real plugin, loaded from a file like any third-party one)
 * that provides the AggregateService: its outbox is `outbox.ndjson` in the state dir, commit
 * empties it, merge appends to `merged.ndjson` with the batch's source.
 */
const AGG = `
import { promises as fs } from 'node:fs';
import path from 'node:path';
export default {
  name: 'aggregate',
  apply(hooks, ctx) {
    const dir = () => process.env.TEST_STATE;
    ctx.provide('aggregate', {
      async outbox() {
        const text = await fs.readFile(path.join(dir(), 'outbox.ndjson'), 'utf8').catch(() => '');
        if (!text) return null;
        return { ndjson: text, rows: text.trim().split('\\n').length, commit: () => fs.writeFile(path.join(dir(), 'outbox.ndjson'), '') };
      },
      async merge(ndjson, source) {
        await fs.appendFile(path.join(dir(), 'merged.log'), source + '\\n');
        return { added: ndjson.trim().split('\\n').length, duplicates: 0, invalid: [] };
      },
    });
  },
};
`;

function setup(id: string, key: string | undefined, remote: string, extra: Record<string, unknown> = {}) {
  const dir = tmpDir('snappy-agg-');
  writeFileSync(path.join(dir, 'agg.mjs'), AGG);
  const config = path.join(dir, 'snappy.config.json');
  writeFileSync(config, JSON.stringify({ builtins: ['sync'], plugins: ['./agg.mjs'], ...extra }));
  const m = machine({ id, key, remote, config, dir });
  m.env.TEST_STATE = m.state;
  return m;
}

const row = (tenant: string, run: string) => `{"_v":1,"ts":"2026-01-01T00:00:00.000Z","skill":"foo","score":0.9,"run_id":"${run}","tenant":"${tenant}","ok":true}\n`;

test('push ships the outbox as one create-only batch, then commits; pull merges other batches once', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const a = setup('a1', 'agg-a', `file://${remoteDir}`);
  const b = setup('b1', 'agg-b', `file://${remoteDir}`);
  const ta = await tenantOf('agg-a');
  const rows = row(ta, '0123456789abcdef');
  writeTree(a.state, { 'outbox.ndjson': rows });
  const { res, out } = await a.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  const key = out.reports.push.aggregate.batch as string;
  assert.match(key, new RegExp(`^snappy-agg/${ta}/[0-9a-f]{16}\\.ndjson$`));
  assert.is(readTree(remoteDir)[key], rows);
  assert.is(readFileSync(path.join(a.state, 'outbox.ndjson'), 'utf8'), '', 'outbox not committed');
  const p1 = await b.json(['run', 'pull']);
  assert.is(p1.res.code, 0, p1.res.stderr);
  assert.is(readFileSync(path.join(b.state, 'merged.log'), 'utf8'), `${key}\n`);
  await b.run(['run', 'pull']);
  assert.is(readFileSync(path.join(b.state, 'merged.log'), 'utf8'), `${key}\n`, 'a batch was merged twice');
  // The machine that shipped a batch does not merge it back.
  await a.run(['run', 'pull']);
  assert.ok(!existsSync(path.join(a.state, 'merged.log')));
});

test('without a master key nothing is shipped and sync adds no warning of its own', async () => {
  const remoteDir = path.join(tmpDir(), 'r');
  const m = setup('n1', undefined, `file://${remoteDir}`);
  writeTree(m.state, { 'outbox.ndjson': row('aaaaaaaaaaaa', '1111111111111111') });
  const { res, out } = await m.json(['run', 'push']);
  assert.is(res.code, 0, res.stderr);
  assert.is(out.reports.push.aggregate.skipped, 'no SNAPPY_MASTER_KEY');
  assert.not.match(res.stderr, /\[sync\].*MASTER_KEY/);
  assert.is(Object.keys(readTree(remoteDir)).filter((k) => k.startsWith('snappy-agg/')).length, 0);
});

test.run();
