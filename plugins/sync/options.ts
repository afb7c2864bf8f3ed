import { z } from 'zod';
import { lazySchema } from '../../core/lazy-schema.ts';
import { globSchema } from '../../domain/glob.ts';

/** Globs that sync by default (docs/contract.md §4), relative to the state dir. */
export const DEFAULT_ALLOW = ['skills/*.md', 'log/evals.aggregate.ndjson', 'log/regen-queue/*', 'staging/**'] as const;

/** Options of the sync plugin (config section `sync`). */
export const syncOptionsSchema = lazySchema(
  () =>
    z
      .object({
        /** Globs (relative to the state dir, picomatch's dialect: README "Sync") that may sync. */
        allow: z.array(globSchema()).default([...DEFAULT_ALLOW]),
        /** Globs that never sync; deny beats allow. The hard deny applies on top, always. */
        deny: z.array(globSchema()).default([]),
        /** Transfers in flight at once. */
        concurrency: z.number().int().min(1).max(256).default(16),
        /** Retries of a failed transfer (exponential backoff from `retryBaseMs`). */
        retries: z.number().int().min(0).max(20).default(4),
        /** First backoff delay in ms; doubles each retry, with jitter. */
        retryBaseMs: z.number().int().min(0).max(60_000).default(200),
        /** What a pulled canonical page does to `skills/<skill>.md`: adopt it when the local page is unchanged since the last sync, or never. */
        adoptCanonical: z.enum(['when-unchanged', 'never']).default('when-unchanged'),
      })
      .strict(),
  'sync.options',
);

export type SyncOptions = z.output<typeof syncOptionsSchema>;
