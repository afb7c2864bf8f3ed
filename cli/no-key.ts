import type { Cli } from './context.ts';

const REASON = 'no SNAPPY_MASTER_KEY';

/** One thing a run without SNAPPY_MASTER_KEY left undone. */
export interface Skipped {
  what: 'aggregate' | 'aggregate shipping' | 'skill pages' | 'tenant files' | 'tenant pull';
  reason: typeof REASON;
  /** New eval rows not aggregated (they wait for the first run with a key). */
  rows?: number;
  /** Files not pushed, relative to the state dir. */
  paths?: string[];
}

let said = false;

/**
 * Everything this run skipped for want of a master key, read from the tasks' reports: the
 * aggregate (made and shipped only under the tenant's key) and the pages and files that sync
 * under the tenant's id, both ways. Said once per process, in one line; returned for --json.
 */
export function noKeySkips(cli: Cli): Skipped[] {
  if (cli.identity.masterKey) return [];
  const r = cli.reports;
  const items: Skipped[] = [];
  if (cli.runner.plugins.includes('aggregate')) {
    const rows = Number(r.ingest?.rows ?? 0);
    if (rows > 0 || r.aggregate || r.push) items.push({ what: 'aggregate', reason: REASON, rows });
    if (r.push) items.push({ what: 'aggregate shipping', reason: REASON });
  }
  const paths = (r.push?.skipped as { paths?: string[] } | undefined)?.paths ?? [];
  const pages = paths.filter((p) => p.startsWith('skills/'));
  const files = paths.filter((p) => !p.startsWith('skills/'));
  if (pages.length) items.push({ what: 'skill pages', reason: REASON, paths: pages });
  if (files.length) items.push({ what: 'tenant files', reason: REASON, paths: files });
  if (r.pull) items.push({ what: 'tenant pull', reason: REASON });
  if (items.length && !said) {
    said = true;
    cli.log.warn(`SNAPPY_MASTER_KEY is not set, so this run skipped: ${items.map(describe).join(', ')}`);
  }
  return items;
}

function describe(s: Skipped): string {
  switch (s.what) {
    case 'aggregate':
      return s.rows ? `aggregating ${s.rows} new eval row(s) (kept for the first run with a key)` : 'aggregating';
    case 'aggregate shipping':
      return 'shipping the aggregate';
    case 'skill pages':
      return `pushing ${s.paths!.length} skill page(s) (${names(s.paths!.map((p) => p.slice('skills/'.length).replace(/\.md$/, '')))})`;
    case 'tenant files':
      return `pushing ${s.paths!.length} other file(s) (${names(s.paths!)})`;
    case 'tenant pull':
      return "pulling this tenant's own pages and files";
  }
}

function names(list: string[]): string {
  return list.length > 3 ? `${list.slice(0, 3).join(', ')}, ...` : list.join(', ');
}
