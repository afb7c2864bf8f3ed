/** KV keys the quorum plugin owns. */
export const KvKeys = {
  lastPromotion: 'last_quorum_promotion',
  lastRollback: 'last_quorum_rollback',
  canonical: (skill: string) => `canonical:${skill}`,
} as const;
