import { ErrorCode, SnappyError } from '../../core/errors.ts';
import { checkAggLine, formatAggRow, type AggRow } from '../../domain/agg-row.ts';
import type { AggScope, Aggregator } from './aggregator.ts';
import { tenantOf } from './project.ts';
import type { AggregateService } from './service.ts';
import { fingerprint, rowKey } from './store.ts';

/** The `aggregate` service over this plugin's aggregator (see service.ts for the contract). */
export function createAggregateService(agg: Aggregator): AggregateService {
  const scopeOf = (given: AggScope | undefined, what: string): AggScope => {
    const s = given ?? agg.scope;
    if (!s) {
      throw new SnappyError(`aggregate.${what}: no state dir known yet; pass the task context as its last argument (${what}(..., ctx))`, { code: ErrorCode.Precondition, plugin: 'aggregate' });
    }
    return s;
  };

  return {
    async outbox(scope?: AggScope) {
      const sc = scopeOf(scope, 'outbox');
      if (!agg.keyOf(sc)) return null;
      await agg.catchUpToIngest(sc);
      await agg.flush(sc.stateDir);
      const store = await agg.store(sc.stateDir);
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
          const live = await agg.store(sc.stateDir);
          await live.append('', (n) => {
            n.own = subtractRanges(n.own, ranges);
          });
          // Told with this batch: a long-running process does not tell them again with the next.
          agg.collisions = undefined;
        },
      };
    },

    async merge(ndjson: string, source: string, scope?: AggScope) {
      const sc = scopeOf(scope, 'merge');
      const store = await agg.store(sc.stateDir);
      // With a key, this tenant's rows are kept with a fingerprint: a run id of ours arriving
      // with another row is a raw run id reused, not the same row seen again.
      const key = agg.keyOf(sc);
      const tenant = key ? tenantOf(key) : undefined;
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
      const collisions = await agg.describeCollision(sc, store, collided, first.row, source);
      agg.reportCollisions(collisions, `merging ${source}`);
      return { added, duplicates, invalid, collisions };
    },
  };
}

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
