import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { GlobalFlags } from '../context.ts';

interface OpsArgs extends GlobalFlags {
  action: string;
  args: string[];
  by?: string;
  reason?: string;
}

const USAGE = `snappy ops <action>:
  key                                  print this machine's tenant id and ingest key (from SNAPPY_MASTER_KEY), to hand to the operator
  revs                                 staged revs with quorum progress, gated and rejected ones, the last promotion
  approve <skill> <rev_id> [--by NAME] promote now, regardless of quorum (by: the rev's manual_review name, else $USER)
  reject <skill> <rev_id> [--by NAME] [--reason TEXT]
  tenants list | admit <tenant> <ingest-key> | revoke <tenant>`;

/**
 * `snappy ops ...`: the operator's actions. Through the Worker's /snappy-ops API when config
 * `worker.url` and SNAPPY_OPS_TOKEN are set and no --remote is given; else straight on the
 * remote (file:// or s3://, with the KV kept in the bucket under `snappy-kv/`).
 */
export const opsCommand: CommandModule<GlobalFlags, OpsArgs> = {
  command: 'ops <action> [args..]',
  describe: 'Operator actions: approve/reject staged revs, admit tenants, list revs; `ops key` prints the ingest key to hand over',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .positional('action', { type: 'string', choices: ['key', 'revs', 'approve', 'reject', 'tenants'], demandOption: true })
      .positional('args', { type: 'string', array: true, default: [] })
      .option('by', { type: 'string', describe: 'who acts (recorded in the changelog row or tenant record)' })
      .option('reason', { type: 'string', describe: 'why a rev is rejected' })
      .usage(USAGE)
      .example('$0 ops approve summarize 3f2a9c1d0e4b --by robert', 'promote a gated rev')
      .example('$0 ops tenants admit 0123456789ab <64-hex ingest key>', 'let a tenant ship aggregate batches') as unknown as Argv<OpsArgs>,
  handler: async (argv) => {
    const { printJson } = await import('../output.ts');
    const out = (data: Record<string, unknown>, human: string): void => {
      if (argv.json) printJson({ ok: true, ...data });
      else process.stdout.write(`${human}\n`);
    };
    const usage = (msg: string) => new SnappyError(`${msg}\n${USAGE}`, { code: ErrorCode.Usage });
    const args = (argv.args ?? []).map(String);

    if (argv.action === 'key') {
      const master = process.env.SNAPPY_MASTER_KEY;
      if (!master) throw new SnappyError('SNAPPY_MASTER_KEY is not set: there is no tenant on this machine', { code: ErrorCode.Usage });
      const { tenantIdOf } = await import('../../domain/hash.ts');
      const { ingestKeyOf } = await import('../../domain/ingest-protocol.ts');
      const tenant = await tenantIdOf(master);
      const ingestKey = await ingestKeyOf(master);
      return out({ tenant, ingestKey }, `tenant ${tenant}\ningest-key ${ingestKey}\n(hand both to the operator: snappy ops tenants admit ${tenant} ${ingestKey})`);
    }

    const { createCli } = await import('../context.ts');
    const cli = await createCli(argv);
    const { quorumOptions } = await import('../../plugins/quorum/options.ts');
    const parsed = quorumOptions.safeParse(cli.config.quorum ?? {});
    if (!parsed.success) throw new SnappyError(`config quorum: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { code: ErrorCode.Config });
    const { directBackend, workerBackend } = await import('../../plugins/quorum/ops-backend.ts');
    const token = process.env.SNAPPY_OPS_TOKEN;
    const viaWorker = !argv.remote && cli.config.worker?.url && token;
    if (!viaWorker) await cli.checkRemote('read');
    const ctx = cli.taskContext('ops');
    const backend = viaWorker ? workerBackend(cli.config.worker!.url, token!) : directBackend(await ctx.remote(), await ctx.kv(), parsed.data);
    const me = argv.by ?? (process.env.USER || os.userInfo().username || 'operator');
    const { OpsError } = await import('../../plugins/quorum/ops.ts');
    try {
      switch (argv.action) {
        case 'revs': {
          const r = await backend.revs();
          const lines = r.revs.map((s) => `${s.skill}:${s.rev}  ${s.state.padEnd(8)} ${s.endorsing}/${s.thresholds.minTenants} tenants endorse, ${s.endorsingRuns}/${s.thresholds.minRuns} runs, mean ${s.mean ?? '-'}${s.manualReview ? `  manual_review: ${s.manualReview}` : ''}${s.promotion ? `  promoted ${s.promotion.ts} by ${s.promotion.by}` : ''}`);
          const last = r.last_quorum_promotion;
          return out({ where: backend.where, ...r }, `${lines.join('\n') || 'no staged revs'}\nlast promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
        }
        case 'approve': {
          if (args.length !== 2) throw usage('ops approve needs <skill> <rev_id>');
          const r = await backend.approve(args[0]!, args[1]!, argv.by, me);
          return out({ where: backend.where, ...r }, r.promoted ? `promoted ${args[0]}:${args[1]} (by ${r.row.by}); canonical now holds ${r.files.length} file(s)` : `${args[0]}:${args[1]} was already promoted at ${r.row.ts} by ${r.row.by}; nothing changed`);
        }
        case 'reject': {
          if (args.length !== 2) throw usage('ops reject needs <skill> <rev_id>');
          const r = await backend.reject(args[0]!, args[1]!, me, argv.reason ?? '');
          return out({ where: backend.where, rejection: r }, `rejected ${args[0]}:${args[1]} (by ${r.by})`);
        }
        case 'tenants': {
          const [sub, ...rest] = args;
          if (sub === 'list' || sub === undefined) {
            const t = await backend.tenants();
            return out({ where: backend.where, tenants: t }, t.map((x) => `${x.tenant}  admitted ${x.admittedAt} by ${x.by}`).join('\n') || 'no tenants admitted');
          }
          if (sub === 'admit') {
            if (rest.length !== 2) throw usage('ops tenants admit needs <tenant> <ingest-key>');
            const r = await backend.admit(rest[0]!, rest[1]!, me);
            return out({ where: backend.where, tenant: rest[0], admittedAt: r.admittedAt, by: r.by }, `admitted tenant ${rest[0]} (by ${r.by})`);
          }
          if (sub === 'revoke') {
            if (rest.length !== 1) throw usage('ops tenants revoke needs <tenant>');
            const had = await backend.revoke(rest[0]!);
            return out({ where: backend.where, tenant: rest[0], revoked: had }, had ? `revoked tenant ${rest[0]}` : `tenant ${rest[0]} was not admitted`);
          }
          throw usage(`unknown tenants action ${JSON.stringify(sub)}`);
        }
        default:
          throw usage(`unknown ops action ${JSON.stringify(argv.action)}`);
      }
    } catch (err) {
      if (err instanceof OpsError) throw new SnappyError(err.message, { code: err.status === 400 ? ErrorCode.Usage : ErrorCode.Invalid, step: `ops ${argv.action}` });
      throw err;
    }
  },
};
