import { KvKeys } from './kv-keys.ts';
import type { QuorumOptions } from './options.ts';
import type { QuorumService } from './service.ts';

/**
 * The quorum service, its code loaded on its first use: every run applies the plugin, few ask
 * it anything (a push never does), and the promotion, rollback and watch code is most of the
 * plugin's size.
 */
export function quorumServiceOnDemand(options: QuorumOptions): QuorumService {
  let loaded: Promise<QuorumService> | undefined;
  const service = () => (loaded ??= import('./service.ts').then((m) => m.createQuorumService(options)));
  return {
    options,
    revs: async (...a) => (await service()).revs(...a),
    lastPromotion: async (...a) => (await service()).lastPromotion(...a),
    lastRollback: async (...a) => (await service()).lastRollback(...a),
    approve: async (...a) => (await service()).approve(...a),
    approval: async (...a) => (await service()).approval(...a),
    reject: async (...a) => (await service()).reject(...a),
    rollback: async (...a) => (await service()).rollback(...a),
    clear: async (...a) => (await service()).clear(...a),
    pin: async (...a) => (await service()).pin(...a),
    watch: async (...a) => (await service()).watch(...a),
    notePage: async (...a) => (await service()).notePage(...a),
    watchedSkills: async (...a) => (await service()).watchedSkills(...a),
    revive: async (...a) => (await service()).revive(...a),
    skills: async (...a) => (await service()).skills(...a),
    canonicalCacheKey: KvKeys.canonical,
  };
}
