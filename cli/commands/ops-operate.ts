import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { RevDiff } from '../../domain/rev-diff.ts';
import type { OpsBackend } from '../ops-backend.ts';

/** The operator's day beyond revs and admissions (docs/operate.md): `snappy ops <action>`. */
export const OPERATE_ACTIONS = ['rotate', 'diff', 'alerts', 'fleet'] as const;

export const OPERATE_USAGE = `  rotate <old-tenant> <new-tenant> <new-public-key> [--by NAME]
                                       move a tenant to a new master key (new-tenant and new-public-key: snappy ops key
                                       run with the new key); the old key is refused at once, its history counts as the new id's
  diff <skill> <rev_id>                the rev against the canonical page it would replace (unified diff) and the diff id
  revs --diff                          every open rev with its diff
  approve <skill> <rev_id> --diff ID   promote only if the change is still the one that diff showed (recorded with the approval)
  alerts [ack <id>]                    open alerts (failing ticks, quarantines, a stalled backlog, quiet tenants); ack closes one
  fleet                                every tenant, when it was last seen and with which release; releases in use; the last tick`;

type Out = (data: Record<string, unknown>, human: string) => void;

/** Runs one of OPERATE_ACTIONS; false when `action` is not one of them. */
export async function operateAction(action: string, args: string[], by: string | undefined, backend: OpsBackend, out: Out): Promise<boolean> {
  const usage = (msg: string) => new SnappyError(`${msg}\n${OPERATE_USAGE}`, { code: ErrorCode.Usage });
  switch (action) {
    case 'rotate': {
      if (args.length !== 3) throw usage('ops rotate needs <old-tenant> <new-tenant> <new-public-key>');
      const r = await backend.rotate(args[0]!, args[1]!, args[2]!, by);
      out({ where: backend.where, ...r }, `rotated tenant ${r.from.tenant} to ${r.to.tenant} (by ${r.from.rotatedBy}): ${r.from.tenant}'s key is refused from now on; its runs count as ${r.to.tenant}'s (former ids: ${(r.to.formerIds ?? []).join(', ')})`);
      return true;
    }
    case 'diff': {
      if (args.length !== 2) throw usage('ops diff needs <skill> <rev_id>');
      const d = await backend.diff(args[0]!, args[1]!);
      out({ where: backend.where, ...d }, formatDiff(d, d.approval));
      return true;
    }
    case 'alerts': {
      if (args[0] === 'ack') {
        if (args.length !== 2) throw usage('ops alerts ack needs <id> (from snappy ops alerts)');
        const acked = await backend.ack(args[1]!, by);
        out({ where: backend.where, id: args[1], acked }, acked ? `acknowledged ${args[1]}: closed while its condition lasts` : `no open alert ${args[1]}`);
        return true;
      }
      if (args.length) throw usage(`unknown alerts action ${JSON.stringify(args[0])}`);
      const a = await backend.alerts();
      const lines = a.open.map((x) => `${x.severity === 'error' ? 'ERROR  ' : 'warning'} ${x.id}  since ${x.opened}\n        ${x.message}`);
      const hook = a.webhook.configured ? `webhook: ${a.webhook.last ? `last call ${a.webhook.last.at}, ${a.webhook.last.error ?? `HTTP ${a.webhook.last.status}`} in ${a.webhook.last.ms} ms` : 'not called yet'}${a.pending ? `; ${a.pending} event(s) waiting` : ''}` : 'webhook: none set (SNAPPY_ALERT_WEBHOOK)';
      out({ where: backend.where, ...a }, `${lines.join('\n') || 'no open alerts'}\n${hook}`);
      return true;
    }
    case 'fleet': {
      const f = await backend.fleet();
      const lines = f.tenants.map((t) => `${t.tenant}  ${t.rotatedTo ? `rotated to ${t.rotatedTo}` : t.admitted ? 'admitted' : 'revoked'}  ${t.seen ? `last seen ${t.seen.lastSeen}${t.seen.lastIngest ? `, last batch ${t.seen.lastIngest}` : ''}, ${t.seen.client ?? 'unnamed client'} (protocol ${t.seen.protocol})` : 'never seen'}${t.formerIds?.length ? `  was ${t.formerIds.join(', ')}` : ''}`);
      const head = f.worker ? `Worker snappy ${f.worker.release}, protocol ${f.worker.protocol} (serves clients of protocol ${f.worker.minClientProtocol}+), layout ${f.layout ?? 'unmarked'}` : `remote layout ${f.layout ?? 'unmarked'}`;
      const tick = f.lastTick ? `last tick ${f.lastTick.ts}: ${f.lastTick.ok ? 'ok' : `FAILED (${f.lastTick.failures} in a row): ${f.lastTick.error ?? ''}`}` : 'no tick recorded';
      const releases = Object.entries(f.releases).map(([k, n]) => `${n} × ${k}`).join(', ');
      out({ where: backend.where, ...f }, `${head}\n${tick}${releases ? `\nreleases in use: ${releases}` : ''}\n${lines.join('\n') || 'no tenants in the registry'}`);
      return true;
    }
    default:
      return false;
  }
}

/** A rev's diff for a terminal: what changes in the frontmatter, then the unified diff, then the id to approve it with. */
export function formatDiff(d: RevDiff, approval?: { by: string; ts: string; diff: string; shown: boolean } | null): string {
  const out = [`${d.skill}:${d.rev} against ${d.canonicalRev ? `canonical rev ${d.canonicalRev}` : 'no canonical page (a first promotion)'}`];
  for (const f of d.frontmatter) out.push(`  frontmatter ${f.key}: ${f.change === 'added' ? `added ${JSON.stringify(f.to)}` : f.change === 'removed' ? `removed (was ${JSON.stringify(f.from)})` : `${JSON.stringify(f.from)} -> ${JSON.stringify(f.to)}`}`);
  out.push(d.text.trimEnd() || '(no change: the rev is the canonical folder)');
  out.push(`diff ${d.diffId}  (approve exactly this: snappy ops approve ${d.skill} ${d.rev} --diff ${d.diffId})`);
  if (approval) out.push(`approved ${approval.ts} by ${approval.by}, ${approval.shown ? `with diff ${approval.diff} shown` : `without naming a diff (it was ${approval.diff})`}`);
  return out.join('\n');
}
