import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ingestEvalLog } from '../../../lifecycle/ingest.ts';
import { definePlugin } from '../../../core/plugin.ts';
import { createRunner } from '../../../core/runner.ts';
import aggregatePlugin from '../../../plugins/aggregate/index.ts';
import type { AggregateService } from '../../../core/services.ts';
import { localRun } from '../../helpers/run.ts';
import { tmpDir } from '../../helpers/tmp.ts';

/** The aggregate plugin in this process, on a fresh state dir: ingest and the service. */
export async function inProcess(masterKey: string | undefined) {
  const stateDir = tmpDir('snappy-agg-ip-');
  await fs.mkdir(path.join(stateDir, 'log'), { recursive: true });
  let service!: AggregateService;
  const probe = definePlugin({ name: 'probe', dependsOn: ['aggregate'], apply: (_h, ctx) => void (service = ctx.use('aggregate')) });
  const runner = createRunner({ plugins: [{ plugin: aggregatePlugin }, { plugin: probe }], runtime: 'node' });
  const identity = { machine: 'm1', ...(masterKey ? { masterKey, tenant: 'unused' } : {}) };
  return {
    stateDir,
    log: path.join(stateDir, 'log', 'evals.ndjson'),
    agg: path.join(stateDir, 'log', 'evals.aggregate.ndjson'),
    run: localRun(stateDir, identity),
    service,
    ingest: () => ingestEvalLog(localRun(stateDir, identity), runner),
  };
}
