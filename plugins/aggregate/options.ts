import { z } from 'zod';
import { lazySchema } from '../../core/lazy-schema.ts';

/**
 * Options of the `aggregate` config section: none yet. The schema is strict so that a key
 * set there by mistake is an error naming it rather than silently ignored.
 */
export const aggregateOptions = lazySchema(() => z.object({}).strict(), 'aggregate.options');

export type AggregateOptions = z.output<typeof aggregateOptions>;
