import { SnappyError } from '../../core/errors.ts';

/** The quorum plugin's own error codes (stable: match on them, not on messages). */
export const QuorumErrorCode = {
  /** A skill name or rev id that is not well-formed. */
  BadRef: 'E_QUORUM_BAD_REF',
  /** An operator name, reason or other input of an operator action that is not acceptable. */
  BadInput: 'E_QUORUM_BAD_INPUT',
  /** No staged rev by that name. */
  NoSuchRev: 'E_QUORUM_NO_SUCH_REV',
  /** The rev is quarantined: its bytes are not what was endorsed; it is never promoted. */
  Quarantined: 'E_QUORUM_QUARANTINED',
  /** A file of the rev's manifest is not staged (yet): nothing was done. */
  Incomplete: 'E_QUORUM_INCOMPLETE',
  /** The rev was promoted already. */
  AlreadyPromoted: 'E_QUORUM_ALREADY_PROMOTED',
  /** A configured `quorum.rule` returned something that is not a decision. */
  BadRule: 'E_QUORUM_BAD_RULE',
  /** The approval names a diff that is no longer the rev against canonical: the operator looks again. */
  StaleDiff: 'E_QUORUM_STALE_DIFF',
  /** The rev was rolled back and is marked: the quorum never promotes it, and an approval waits until an operator clears the mark. */
  RolledBack: 'E_QUORUM_ROLLED_BACK',
  /** A rollback of a skill that has no canonical page. */
  NothingCanonical: 'E_QUORUM_NOTHING_CANONICAL',
  /** A rollback naming a rev that is not (or no longer) the skill's canonical. */
  NotCanonical: 'E_QUORUM_NOT_CANONICAL',
  /** The previous canonical cannot be restored byte for byte (files gone or changed since its promotion): nothing was done. */
  CannotRestore: 'E_QUORUM_CANNOT_RESTORE',
  /** Clearing the mark of a rev that was never rolled back. */
  NotRolledBack: 'E_QUORUM_NOT_ROLLED_BACK',
  /** Reviving a rev that never expired. */
  NotExpired: 'E_QUORUM_NOT_EXPIRED',
} as const;

type QuorumCode = (typeof QuorumErrorCode)[keyof typeof QuorumErrorCode];

const STATUS: Record<QuorumCode, number> = {
  E_QUORUM_BAD_REF: 400,
  E_QUORUM_BAD_INPUT: 400,
  E_QUORUM_NO_SUCH_REV: 404,
  E_QUORUM_QUARANTINED: 409,
  E_QUORUM_INCOMPLETE: 409,
  E_QUORUM_ALREADY_PROMOTED: 409,
  E_QUORUM_BAD_RULE: 500,
  E_QUORUM_STALE_DIFF: 409,
  E_QUORUM_ROLLED_BACK: 409,
  E_QUORUM_NOTHING_CANONICAL: 409,
  E_QUORUM_NOT_CANONICAL: 409,
  E_QUORUM_CANNOT_RESTORE: 409,
  E_QUORUM_NOT_ROLLED_BACK: 409,
  E_QUORUM_NOT_EXPIRED: 409,
};

/** An operator action the quorum plugin refuses, with its code and HTTP status. */
export function quorumError(code: QuorumCode, message: string, details?: unknown): SnappyError {
  return new SnappyError(message, { code, plugin: 'quorum', status: STATUS[code], ...(details !== undefined ? { details } : {}) });
}
