/** Rules for the names that paths and keys are built from (docs/contract.md §2). */
import { ErrorCode, SnappyError } from '../core/errors.ts';

export const SKILL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const REV_RE = /^[0-9a-f]{12}$/;
export const MACHINE_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const TENANT_RE = /^[0-9a-f]{12}$/;

export function isSkillName(s: unknown): s is string {
  return typeof s === 'string' && SKILL_RE.test(s) && s !== '..' && !s.endsWith('.');
}

/** Throws an error naming `where` when `s` is not a valid skill name. */
export function assertSkillName(s: unknown, where = 'skill name'): asserts s is string {
  if (!isSkillName(s)) throw new SnappyError(`${where}: ${JSON.stringify(s)} is not a valid skill name ([A-Za-z0-9][A-Za-z0-9._-]{0,127}, no trailing '.')`, { code: ErrorCode.Invalid, status: 400 });
}

export function isRevId(s: unknown): s is string {
  return typeof s === 'string' && REV_RE.test(s);
}

export function isMachineId(s: unknown): s is string {
  return typeof s === 'string' && MACHINE_RE.test(s) && s !== '.' && s !== '..';
}

export function isTenantId(s: unknown): s is string {
  return typeof s === 'string' && TENANT_RE.test(s);
}

/** Splits `skill` or `skill:rev_id`; returns null when either part is invalid. */
export function parseSkillRef(s: string): { skill: string; rev?: string } | null {
  const i = s.indexOf(':');
  if (i < 0) return isSkillName(s) ? { skill: s } : null;
  const skill = s.slice(0, i);
  const rev = s.slice(i + 1);
  return isSkillName(skill) && isRevId(rev) ? { skill, rev } : null;
}
