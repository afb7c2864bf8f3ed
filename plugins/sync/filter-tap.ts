import type { PushPlan } from '../../core/hooks.ts';
import type { Logger } from '../../core/ports.ts';
import type { SyncFilter } from './paths.ts';

/**
 * sync's own `beforePush` tap (Stage.FILTER): drops plan entries the allow/deny lists or the
 * hard deny exclude, whoever added them. The transport checks the hard deny again after the
 * last tap, so a plugin at a later stage cannot lift it either.
 */
export function filterPlan(plan: PushPlan, filter: SyncFilter, log: Logger): PushPlan {
  const entries = (plan?.entries ?? []).filter((e) => {
    if (!e || typeof e.path !== 'string' || typeof e.key !== 'string') return false;
    const ok = filter.allows(e.path);
    if (!ok) log.debug(`plan: dropped ${e.path} (sync allow/deny or hard deny)`);
    return ok;
  });
  return { ...plan, entries };
}
