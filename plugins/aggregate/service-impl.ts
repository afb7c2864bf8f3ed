import type { RunContext } from '../../core/context.ts';
import type { AggregateService } from '../../core/services.ts';
import { checkAggLine, formatAggRow, type AggRow } from '../../domain/agg-row.ts';
import type { Aggregator } from './aggregator.ts';
import { fingerprint, rowKey } from './store.ts';

/** The `aggregate` service over this plugin's aggregator (core/services.ts has the contract). */
export function createAggregateService(agg: Aggregator): AggregateService {
  return {
    async outbox(run: RunContext) {
      if (!agg.keyOf(run)) return null;
      await agg.catchUpToIngest(run);
      await agg.flush(run.stateDir);
      const store = await agg.store(run.stateDir);
      const ranges = store.commit.own.map((r) => [r[0], r[1]] as [number, number]);
      if (ranges.length === 0) return null;
      const parts: Buffer[] = [];
      for (const [s, e] of ranges) parts.push(await store.read(s, e));
      const ndjson = Buffer.concat(parts).toString('utf8');
      let rows = 0;
      for (let i = ndjson.indexOf('\n'); i >= 0; i = ndjson.indexOf('\n', i + 1)) rows++;
      return {
        ndjson,
        rows,
        ...(agg.collisions ? { collisions: agg.collisions } : {}),
        commit: async () => {
          const live = await agg.store(run.stateDir);
          await live.append('', (n) => {
            n.own = subtractRanges(n.own, ranges);
          });
          // Told with this batch: a long-running process does not tell them again with the next.
          agg.collisions = undefined;
        },
      };
    },

    async prune(run: RunContext, o: { retentionDays: number; removedTenants: readonly string[] }) {
      const store = await agg.store(run.stateDir);
      const now = run.clock.now();
      const last = store.commit.pruned;
      const windowDue = o.retentionDays > 0 && (!last || now - last.at >= DAY || now < last.at);
      const dropped = new Set(store.commit.dropped ?? []);
      const newlyRemoved = o.removedTenants.filter((t) => !dropped.has(t));
      if (!windowDue && !newlyRemoved.length) return null;
      // The first pull that learns a window only starts its day: nothing is pruned by it, so rows
      // just pulled (a fleet's back-filled history among them) stay for at least a day.
      // A prune for a removed tenant alone keeps the window's cutoff where the last one left it.
      const cutoff = windowDue && last ? new Date(now - o.retentionDays * DAY).toISOString() : (last?.cutoff ?? '');
      return store.prune(cutoff, now, newlyRemoved, windowDue);
    },

    async merge(run: RunContext, ndjson: string, source: string) {
      const store = await agg.store(run.stateDir);
      // With a key, this tenant's rows are kept with a fingerprint: a run id of ours arriving
      // with another row is a raw run id reused, not the same row seen again.
      const key = agg.keyOf(run);
      const tenant = key ? await agg.tenantOf(key) : undefined;
      const keys = await store.keySet(tenant);
      const ours = tenant ? store.rowsOf(tenant) : undefined;
      let collided = 0;
      let first: { row: AggRow } | undefined;
      const invalid: { line: number; reason: string }[] = [];
      let out = '';
      let added = 0;
      let duplicates = 0;
      const lines = ndjson.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line.trim() === '') continue;
        const c = checkAggLine(line);
        if (!c.ok) {
          invalid.push({ line: i + 1, reason: c.reason });
          continue;
        }
        const k = rowKey(c.row.tenant, c.row.run_id);
        const text = formatAggRow(c.row);
        const mine = ours && c.row.tenant === tenant;
        if (keys.has(k)) {
          duplicates++;
          const had = mine ? ours.get(c.row.run_id) : undefined;
          if (had !== undefined && had !== fingerprint(text)) {
            collided++;
            first ??= { row: c.row };
          }
          continue;
        }
        keys.add(k);
        if (mine) ours.set(c.row.run_id, fingerprint(text));
        out += text + '\n';
        added++;
      }
      await store.append(out, () => {});
      if (added > 0) await store.flush();
      if (invalid.length > 0) {
        for (const b of invalid.slice(0, 5)) agg.log.warn(`${source}:${b.line}: ${b.reason} (aggregate row skipped)`);
        if (invalid.length > 5) agg.log.warn(`${source}: ... and ${invalid.length - 5} more invalid aggregate rows skipped`);
      }
      if (!collided || !first || !tenant) return { added, duplicates, invalid };
      const collisions = await agg.describeCollision(run, store, collided, first.row, source);
      agg.reportCollisions(collisions, `merging ${source}`);
      return { added, duplicates, invalid, collisions };
    },
  };
}

const DAY = 86_400_000;

/** `have` minus every byte covered by `shipped` (ranges are [start, end) byte offsets). */
export function subtractRanges(have: readonly [number, number][], shipped: readonly [number, number][]): [number, number][] {
  let out: [number, number][] = have.map((r) => [r[0], r[1]]);
  for (const [s, e] of shipped) {
    const next: [number, number][] = [];
    for (const [a, b] of out) {
      if (e <= a || s >= b) next.push([a, b]);
      else {
        if (a < s) next.push([a, s]);
        if (e < b) next.push([e, b]);
      }
    }
    out = next;
  }
  return out;
}
