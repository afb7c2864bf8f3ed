import { Remote } from '../../domain/layout.ts';
import { isHardDenied, State } from '../../domain/state-layout.ts';
import { isRevId, isSkillName, isTenantId } from '../../domain/names.ts';
import type { GlobList } from '../../domain/glob.ts';

/** What a synced file is, which decides its remote key and its write rule. */
export type SyncKind = 'page' | 'brief' | 'staged' | 'file' | 'canonical' | 'aggregate';

/** Who is syncing: keys of pages, files and briefs live under the tenant; briefs carry the machine too. */
export interface Who {
  machine: string;
  tenant?: string;
}

/** Suffix of the copy a pull writes beside a locally edited file instead of overwriting it. */
export const INCOMING_SUFFIX = '.incoming';

/**
 * A temp file an atomic write left behind when it was killed (`<file>.<pid>.<8 hex>.tmp`, see
 * adapters/fs.ts writeFileAtomic): never synced, or it would ride along with a staged rev.
 */
export function isAtomicTemp(rel: string): boolean {
  return rel.endsWith('.tmp') && /\.\d+\.[0-9a-f]{8}\.tmp$/.test(rel);
}

/** True for a relative POSIX path with no empty, `.` or `..` segment, no backslash or NUL. */
export function isSafeRel(rel: string): boolean {
  if (typeof rel !== 'string' || rel.length === 0 || rel.length > 1024 || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0')) return false;
  // Without splitting: a push tests every path in the state dir, several times each.
  return !UNSAFE_SEGMENT.test(rel);
}

/** An empty, `.` or `..` segment (the path does not start with `/`, checked before). */
const UNSAFE_SEGMENT = /\/\/|\/$|(?:^|\/)\.\.?(?:\/|$)/;

/** The allow/deny lists plus the hard deny and the name rules. */
export class SyncFilter {
  constructor(
    readonly allow: GlobList,
    readonly deny: GlobList,
  ) {}

  /** May `rel` sync at all (either way)? Deny beats allow; the hard deny beats both. */
  allows(rel: string): boolean {
    return isSafeRel(rel) && !isHardDenied(rel) && this.allow.matches(rel) && !this.deny.matches(rel);
  }

  /** Is `rel` denied outright (hard deny or the deny list)? A symlink must not lead there. */
  denies(rel: string): boolean {
    return !isSafeRel(rel) || isHardDenied(rel) || this.deny.matches(rel);
  }
}

/**
 * The remote key a local file pushes to, or null when it does not push: canonical pages are
 * pull-only, other machines' briefs belong to them, the aggregate ships as batches, and a
 * tenant's own pages and files need a tenant id.
 */
export function pushTarget(rel: string, who: Who): PushTarget | null {
  if (!isSafeRel(rel) || isHardDenied(rel)) return null;
  return pushTargetOfAllowed(rel, who);
}

/** Where a local file pushes to. */
export interface PushTarget {
  key: string;
  kind: SyncKind;
  createOnly: boolean;
}

/**
 * `pushTarget` of a path `SyncFilter.allows` passed, which checked it is safe and not under
 * the hard deny: a push's scan asks for every path in the state dir and skips the repeat.
 */
export function pushTargetOfAllowed(rel: string, who: Who): PushTarget | null {
  if (rel.endsWith(INCOMING_SUFFIX) || isAtomicTemp(rel)) return null;
  // Most of a state dir is pages: they go without splitting the path.
  if (rel.startsWith(State.skillsDir) && rel.endsWith('.md') && rel.indexOf('/', State.skillsDir.length) === -1) {
    const skill = rel.slice(State.skillsDir.length, -3);
    if (isSkillName(skill)) return who.tenant ? { key: Remote.tenantSkill(who.tenant, skill), kind: 'page', createOnly: false } : null;
  }
  const parts = rel.split('/');
  if (parts[0] === 'canonical' || rel === State.aggregate) return null;
  if (rel.startsWith(State.regenQueueDir) && parts.length === 3) {
    // A shared brief names its tenant in its key, so nobody can pass one off as another
    // tenant's; with no master key there is no tenant, and no brief leaves.
    const suffix = `.${who.machine}.md`;
    const name = parts[2]!;
    if (!who.tenant || !name.endsWith(suffix)) return null;
    const skill = name.slice(0, -suffix.length);
    return isSkillName(skill) ? { key: Remote.brief(who.tenant, skill, who.machine), kind: 'brief', createOnly: false } : null;
  }
  if (parts[0] === 'staging') {
    if (parts.length < 4 || !isSkillName(parts[1]) || !isRevId(parts[2])) return null;
    return { key: Remote.staged(parts[1]!, parts[2]!, parts.slice(3).join('/')), kind: 'staged', createOnly: true };
  }
  return who.tenant ? { key: Remote.tenantFile(who.tenant, rel), kind: 'file', createOnly: false } : null;
}

/** The local path a remote object pulls to, or null when it is not ours to pull (or unsafe). */
export function pullTarget(key: string, who: Who): { rel: string; kind: SyncKind } | null {
  if (who.tenant) {
    const skills = Remote.tenantSkillsPrefix(who.tenant);
    if (key.startsWith(skills)) {
      const name = key.slice(skills.length);
      const skill = name.endsWith('.md') ? name.slice(0, -3) : '';
      return isSkillName(skill) ? { rel: State.skill(skill), kind: 'page' } : null;
    }
    const files = Remote.tenantFilesPrefix(who.tenant);
    if (key.startsWith(files)) {
      const rel = key.slice(files.length);
      // Only what this machine would itself push there: anything else is not a state file.
      const back = pushTarget(rel, who);
      return back && back.kind === 'file' && back.key === key ? { rel, kind: 'file' } : null;
    }
  }
  if (key.startsWith(Remote.briefsPrefix)) {
    // Every tenant's briefs land in the one regen queue. A name this machine writes itself is
    // never pulled, whoever wrote it: it would take the place of (and be pushed as) our own.
    const parts = key.slice(Remote.briefsPrefix.length).split('/');
    if (parts.length !== 2 || !isTenantId(parts[0])) return null;
    const name = parts[1]!;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.md$/.test(name) || name.endsWith(`.${who.machine}.md`)) return null;
    return { rel: `${State.regenQueueDir}${name}`, kind: 'brief' };
  }
  if (key.startsWith(Remote.stagingPrefix)) {
    const parts = key.slice(Remote.stagingPrefix.length).split('/');
    if (parts.length < 3 || !isSkillName(parts[0]) || !isRevId(parts[1]) || !isSafeRel(parts.slice(2).join('/'))) return null;
    return { rel: `staging/${parts.join('/')}`, kind: 'staged' };
  }
  if (key.startsWith(Remote.canonicalPrefix)) {
    const parts = key.slice(Remote.canonicalPrefix.length).split('/');
    if (parts.length < 2 || !isSkillName(parts[0]) || !isSafeRel(parts.slice(1).join('/'))) return null;
    return { rel: `canonical/${parts.join('/')}`, kind: 'canonical' };
  }
  return null;
}

/** `snappy-agg/<tenant>/<batch>.ndjson` → its tenant, or null for anything else. */
export function aggregateBatchTenant(key: string): string | null {
  if (!key.startsWith(Remote.aggregatePrefix)) return null;
  const parts = key.slice(Remote.aggregatePrefix.length).split('/');
  return parts.length === 2 && isTenantId(parts[0]) && /^[0-9a-f]{16}\.ndjson$/.test(parts[1]!) ? parts[0]! : null;
}
