import path from 'node:path';
import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { GlobalFlags } from '../context.ts';
import type { OpsBackend } from '../ops-backend.ts';
import { formatDiff, OPERATE_ACTIONS, OPERATE_USAGE, operateAction } from './ops-operate.ts';

interface OpsArgs extends GlobalFlags {
  action: string;
  args: string[];
  by?: string;
  reason?: string;
  allowWeakKey?: boolean;
  diff?: string;
}

const USAGE = `snappy ops <action>:
  key                                  print this machine's tenant id and public key (from SNAPPY_MASTER_KEY), to hand to the operator
  revs                                 staged revs with quorum progress, gated and rejected ones, the last promotion
  approve <skill> <rev_id> [--by NAME] promote now, regardless of quorum (by: the operator; through the Worker,
                                       a named token's owner, else required; in direct mode, else $USER)
  reject <skill> <rev_id> [--by NAME] [--reason TEXT]
  watch                                promotions under watch (objections so far, runs counted), pins, rollbacks
  rollback <skill> [<rev_id>] [--by NAME] [--reason TEXT]
                                       restore the canonical page the current one replaced (or withdraw it);
                                       with <rev_id>, only while that rev is the canonical one
  clear <skill> <rev_id> [--by NAME] [--reason TEXT]
                                       lift a rollback's mark: the quorum may promote the rev again
  revive <skill> <rev_id> [--by NAME] [--reason TEXT]
                                       reopen an expired rev: tenants evaluate it again, the quorum may promote it,
                                       its expiry clock starts over
  pin | unpin <skill> <rev_id> [--by NAME] [--reason TEXT]
                                       a pinned rev is never rolled back by the watch (an operator still can)
  tenants list | admit <tenant> <public-key> | revoke <tenant> | remove <tenant>
                                       remove: delete a revoked tenant's batches, pages, briefs and seen record;
                                       its rows leave every pull and machines drop them
  audit                                admissions, revocations and key changes, newest first
${OPERATE_USAGE}

In Worker mode (config worker.url) every action but \`key\` goes through the Worker's
/snappy-ops API with SNAPPY_OPS_TOKEN; in direct mode it acts on the remote itself.`;

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
      .positional('action', { type: 'string', choices: ['key', 'revs', 'approve', 'reject', 'watch', 'rollback', 'clear', 'revive', 'pin', 'unpin', 'tenants', 'audit', ...OPERATE_ACTIONS], demandOption: true })
      .positional('args', { type: 'string', array: true, default: [] })
      .option('by', { type: 'string', describe: 'who acts (recorded in the changelog row or tenant record)' })
      .option('reason', { type: 'string', describe: 'why a rev is rejected, rolled back, cleared, revived or pinned' })
      .option('diff', { type: 'string', describe: 'revs: show each open rev\'s diff against canonical; approve: the diff id you were shown (refused when the change is no longer that)' })
      .option('allow-weak-key', { type: 'boolean', describe: 'ops key: derive the signing key even from a master key under 128 bits (tests only)' })
      .usage(USAGE)
      .example('$0 ops approve summarize 3f2a9c1d0e4b --by robert', 'promote a gated rev')
      .example('$0 ops diff summarize 3f2a9c1d0e4b', 'the staged page against the canonical one it would replace')
      .example('$0 ops rollback summarize 3f2a9c1d0e4b --reason "answers got longer"', 'restore the page the promotion replaced')
      .example('$0 ops tenants admit 0123456789ab <public key>', 'let a tenant in (its `snappy ops key` output)')
      .example('$0 ops rotate 0123456789ab 9876543210fe <new public key> --by robert', 'move a tenant to a new master key') as unknown as Argv<OpsArgs>,
  handler: async (argv) => {
    const { printJson } = await import('../output.ts');
    const out = (data: Record<string, unknown>, human: string): void => {
      if (argv.json) printJson({ ok: true, ...data });
      else process.stdout.write(`${human}\n`);
    };
    const usage = (msg: string) => new SnappyError(`${msg}\n${USAGE}`, { code: ErrorCode.Usage });
    const args = (argv.args ?? []).map(String);

    if (argv.action === 'key') {
      const { resolveStateDir } = await import('../state-dir.ts');
      const { masterKeyFor, MASTER_KEY_FILE } = await import('../master-key.ts');
      const { dir } = await resolveStateDir(argv);
      const master = (await masterKeyFor(dir)).key;
      if (!master) throw new SnappyError(`SNAPPY_MASTER_KEY is not set and ${path.join(dir, MASTER_KEY_FILE)} does not exist: there is no tenant on this machine (snappy init makes a key)`, { code: ErrorCode.Usage });
      // The tenant id is public, so a weak key can be guessed offline: no ingest key is derived from one.
      const { keyStrength, weakKeyMessage } = await import('../../domain/key-strength.ts');
      const strength = keyStrength(master);
      if (!strength.strong && !argv.allowWeakKey) throw new SnappyError(`${weakKeyMessage(strength)}; then hand over the new key's tenant id and public key (--allow-weak-key derives one anyway, for tests only)`, { code: ErrorCode.Usage, step: 'ops key' });
      const { tenantIdOf } = await import('../../domain/hash.ts');
      const { tenantSigner } = await import('../../domain/auth.ts');
      const tenant = await tenantIdOf(master);
      const { publicKey } = await tenantSigner(master, tenant);
      return out({ tenant, publicKey }, `tenant ${tenant}\npublic-key ${publicKey}\n(hand both to the operator: snappy ops tenants admit ${tenant} ${publicKey}; the key is public, the master key never leaves this machine)`);
    }

    const { createCli } = await import('../context.ts');
    const cli = await createCli(argv, process.env, { stateWrites: false });
    const token = process.env.SNAPPY_OPS_TOKEN;
    if (cli.mode === 'worker' && !token) {
      throw new SnappyError(`Worker mode (worker.url ${cli.remoteUrl}): operator actions go through the Worker's /snappy-ops API; set SNAPPY_OPS_TOKEN to the Worker's ops token`, { code: ErrorCode.Usage });
    }
    const { directBackend } = await import('../ops-backend.ts');
    const { workerBackend } = await import('../ops-worker.ts');
    if (cli.mode === 'direct') await cli.checkRemote('read');
    const ctx = cli.taskContext('ops');
    // Direct mode: the operator is --by, else the OS user running the command. Through the
    // Worker: --by if given, else the Worker knows the operator from a named token.
    const me = argv.by ?? (process.env.USER || os.userInfo().username || 'operator');
    const backend = cli.mode === 'worker' ? workerBackend(cli.config.worker!.url, token!, cli.config.worker) : directBackend({ blobs: await ctx.remote(), kv: await ctx.kv() }, cli.runner.service('quorum'), me, cli.log, ctx.clock);
    if (await operateAction(argv.action, args, argv.by, backend, out)) return;
    switch (argv.action) {
      case 'revs': {
        const r = await backend.revs();
        const { progressWords } = await import('../../plugins/quorum/index.ts');
        const lines = r.revs.flatMap((s) => [
          `${s.skill}:${s.rev}  ${s.state.padEnd(11)} ${progressWords(s, s.thresholds)}${s.manualReview ? `  manual_review: ${s.manualReview}` : ''}${s.promotion ? `  promoted ${s.promotion.ts} by ${s.promotion.by}` : ''}${s.expiry?.words ? `  ${s.expiry.words}` : ''}`,
          ...(s.regression ? [`    regression gate: ${s.regression.words}`] : []),
        ]);
        const last = r.last_quorum_promotion;
        // --diff: each rev an operator could still approve, against the canonical it would replace.
        const diffs = argv.diff === undefined ? undefined : await revDiffs(backend, r.revs.filter((s) => s.state === 'pending' || s.state === 'gated'));
        const shown = diffs ? Object.values(diffs).map((d) => `\n${formatDiff(d)}`).join('\n') : '';
        return out({ where: backend.where, ...r, ...(diffs ? { diffs } : {}) }, `${lines.join('\n') || 'no staged revs'}\nlast promotion: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}${shown}`);
      }
      case 'approve': {
        if (args.length !== 2) throw usage('ops approve needs <skill> <rev_id>');
        if (argv.diff === '') throw usage('ops approve --diff needs the diff id (snappy ops diff <skill> <rev_id> prints it)');
        const r = await backend.approve(args[0]!, args[1]!, argv.by, argv.diff);
        return out({ where: backend.where, ...r }, r.promoted ? `promoted ${args[0]}:${args[1]} (by ${r.row.by}); canonical now holds ${r.files.length} file(s)${r.approval ? `; recorded as approved ${r.approval.shown ? `with diff ${r.approval.diff} shown` : `without a diff named (it was ${r.approval.diff}: snappy ops diff shows it)`}` : ''}` : `${args[0]}:${args[1]} was already promoted at ${r.row.ts} by ${r.row.by}; nothing changed`);
      }
      case 'reject': {
        if (args.length !== 2) throw usage('ops reject needs <skill> <rev_id>');
        const r = await backend.reject(args[0]!, args[1]!, argv.by, argv.reason ?? '');
        return out({ where: backend.where, rejection: r }, `rejected ${args[0]}:${args[1]} (by ${r.by})`);
      }
      case 'watch': {
        const w = await backend.watch();
        const { tenantsWords } = await import('../../plugins/quorum/index.ts');
        const lines = [
          ...w.watches.map((x) => `${x.skill}:${x.rev}  promoted ${x.promotedAt} by ${x.by}${x.pinned ? '  PINNED' : ''}: ${tenantsWords(x.objecting, x.thresholds.minTenants, 'object')}, ${x.adopted} adopted the page, ${x.runs} runs counted`),
          ...w.pins.map((p) => `pinned ${p.skill}:${p.rev}`),
          ...w.rollbacks.map((r) => `rolled back ${r.skill}:${r.rev_id} at ${r.ts} by ${r.by}: ${r.restored ? `restored ${r.restored.rev_id}` : 'canonical withdrawn'}${r.marked ? ' (marked)' : ' (mark cleared)'}`),
        ];
        const last = w.last_quorum_rollback as { skill: string; rev_id: string; ts: string } | null;
        return out({ where: backend.where, ...w }, `${lines.join('\n') || 'no promotion under watch'}\nlast rollback: ${last ? `${last.skill}:${last.rev_id} at ${last.ts}` : 'none'}`);
      }
      case 'rollback': {
        if (args.length < 1 || args.length > 2) throw usage('ops rollback needs <skill> and may name the <rev_id> it means');
        const r = await backend.rollback(args[0]!, args[1], argv.by, argv.reason ?? '');
        return out({ where: backend.where, ...r }, r.rolledBack ? `rolled back ${args[0]}:${r.entry!.rev_id} (by ${r.entry!.by}): ${r.restored ? `canonical is ${r.restored.rev_id} again` : 'there was no earlier canonical: withdrawn'}` : `nothing rolled back: ${r.why}`);
      }
      case 'clear':
      case 'revive':
      case 'pin':
      case 'unpin': {
        if (args.length !== 2) throw usage(`ops ${argv.action} needs <skill> <rev_id>`);
        const r = await backend.mark(argv.action, args[0]!, args[1]!, argv.by, argv.reason ?? '');
        const done = { clear: 'cleared the mark of', revive: 'revived', pin: 'pinned', unpin: 'unpinned' }[argv.action];
        const already = { clear: 'is not marked (cleared already)', revive: 'is revived already', pin: 'is pinned already', unpin: 'is not pinned' }[argv.action];
        return out({ where: backend.where, ...r }, r.changed ? `${done} ${args[0]}:${args[1]} (by ${r.entry!.by})` : `${args[0]}:${args[1]} ${already}; nothing changed`);
      }
      case 'tenants': {
        const [sub, ...rest] = args;
        if (sub === 'list' || sub === undefined) {
          const t = await backend.tenants();
          const lines = t.map((x) => `${x.tenant}  ${x.admitted ? 'admitted' : `REVOKED ${x.revokedAt} by ${x.revokedBy}; admitted`} ${x.admittedAt} by ${x.admittedBy}  signatures ${x.signatures.join('+') || '-'}`);
          return out({ where: backend.where, tenants: t }, lines.join('\n') || 'no tenants admitted');
        }
        if (sub === 'admit') {
          if (rest.length !== 2) throw usage('ops tenants admit needs <tenant> <public-key> (both from `snappy ops key` on a machine of the tenant)');
          const r = await backend.admit(rest[0]!, rest[1]!, argv.by);
          return out({ where: backend.where, tenant: r }, `admitted tenant ${r.tenant} (by ${r.admittedBy})`);
        }
        if (sub === 'revoke') {
          if (rest.length !== 1) throw usage('ops tenants revoke needs <tenant>');
          const had = await backend.revoke(rest[0]!, argv.by);
          return out({ where: backend.where, tenant: rest[0], revoked: had }, had ? `revoked tenant ${rest[0]}: refused from its next request on, its runs no longer count` : `tenant ${rest[0]} was not admitted`);
        }
        if (sub === 'remove') {
          if (rest.length !== 1) throw usage('ops tenants remove needs <tenant>');
          // Bounded steps (a Worker request deletes a few hundred objects), repeated until done.
          const total = { tenant: rest[0]!, batches: 0, indexEntries: 0, pages: 0, briefs: 0, seen: false, done: false };
          for (let step = 0; !total.done; step++) {
            const r = await backend.remove(rest[0]!, argv.by);
            total.batches += r.batches;
            total.indexEntries += r.indexEntries;
            total.pages += r.pages;
            total.briefs += r.briefs;
            total.seen ||= r.seen;
            total.done = r.done;
            if (step > 100_000) throw new SnappyError(`removing tenant ${rest[0]} did not finish; run it again`, { code: ErrorCode.Remote });
          }
          return out({ where: backend.where, removal: total }, `removed tenant ${rest[0]}: ${total.batches} batches, ${total.pages} pages and files, ${total.briefs} briefs${total.seen ? ', its seen record' : ''}; its rows leave every pull from now on and machines drop them at their next pull`);
        }
        throw usage(`unknown tenants action ${JSON.stringify(sub)}`);
      }
      case 'audit': {
        const a = await backend.audit();
        return out({ where: backend.where, audit: a }, a.map((e) => `${e.ts}  ${e.action.padEnd(7)} ${e.tenant}  by ${e.by}${e.detail ? `  (${e.detail})` : ''}`).join('\n') || 'no admissions yet');
      }
      default:
        throw usage(`unknown ops action ${JSON.stringify(argv.action)}`);
    }
  },
};

/** The diffs of `revs` against canonical, by `skill:rev`. */
async function revDiffs(backend: OpsBackend, revs: readonly { skill: string; rev: string }[]): Promise<Record<string, Awaited<ReturnType<OpsBackend['diff']>>>> {
  const out: Record<string, Awaited<ReturnType<OpsBackend['diff']>>> = {};
  for (const r of revs) out[`${r.skill}:${r.rev}`] = await backend.diff(r.skill, r.rev);
  return out;
}
