import { Remote } from '../domain/layout.ts';
import { isMachineId, isSkillName } from '../domain/names.ts';

/**
 * Who may touch which key through the Worker (docs/worker.md "Who may write what").
 *
 * A tenant may write only its own pages (and their history), files and briefs; staged revs go through
 * `POST /v1/stage` and aggregate batches through `POST /v1/ingest`, both checked there. It may
 * read what a pull needs: its own pages and files, every tenant's briefs, staged revs and their
 * manifests, canonical pages, and the aggregate batches. Everything else (tallies, the
 * registry, the changelog's bookkeeping, replay records, the KV stand-in) is the Worker's own.
 */
export function canWrite(tenant: string, key: string): string | null {
  const own = `snappy-tenants/${tenant}/`;
  if (key.startsWith(own)) {
    const rest = key.slice(own.length);
    if (rest.startsWith('skills/')) {
      const name = rest.slice('skills/'.length);
      return name.endsWith('.md') && isSkillName(name.slice(0, -3)) ? null : `${key}: a page key is ${own}skills/<skill>.md`;
    }
    if (rest.startsWith('files/') && rest.length > 'files/'.length) return null;
    if (rest.startsWith('history/')) {
      const name = rest.slice('history/'.length);
      return name.endsWith('.json') && isSkillName(name.slice(0, -5)) ? null : `${key}: a page history key is ${own}history/<skill>.json`;
    }
    return `${key}: under ${own} a tenant writes skills/, history/ and files/ only`;
  }
  const briefs = Remote.tenantBriefsPrefix(tenant);
  if (key.startsWith(briefs)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.([A-Za-z0-9._-]{1,64})\.md$/.exec(key.slice(briefs.length));
    // `<skill>.<machine>.md` is ambiguous when the skill has dots; any split with a valid skill and machine will do.
    return m && isSkillName(m[1]) && isMachineId(m[2]) ? null : `${key}: a brief key is ${briefs}<skill>.<machine>.md`;
  }
  if (key.startsWith('snappy-tenants/') || key.startsWith(Remote.briefsPrefix)) return `${key} belongs to another tenant`;
  if (key.startsWith(Remote.stagingPrefix)) return `${key}: staged revs are written through POST /v1/stage (one request per rev, checked against its hash)`;
  if (key.startsWith(Remote.aggregatePrefix)) return `${key}: aggregate batches are written through POST /v1/ingest`;
  return `${key}: only the Worker writes there`;
}

/** Prefixes a tenant may list and read (besides its own, which `canRead` adds). */
const SHARED_READ = [Remote.briefsPrefix, Remote.stagingPrefix, Remote.manifestPrefix, Remote.canonicalPrefix, Remote.aggregatePrefix] as const;

export function canRead(tenant: string, key: string): boolean {
  return key.startsWith(`snappy-tenants/${tenant}/`) || SHARED_READ.some((p) => key.startsWith(p));
}

/** A listing prefix is allowed when everything under it is readable. */
export function canList(tenant: string, prefix: string): boolean {
  return canRead(tenant, prefix) && prefix.length > 0;
}
