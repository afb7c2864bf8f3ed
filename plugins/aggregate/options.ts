import { z } from 'zod';

/**
 * Options of the `aggregate` config section: none yet. The schema is strict so that a key
 * set there by mistake is an error naming it rather than silently ignored.
 */
export const aggregateOptions = z.object({}).strict();

export type AggregateOptions = z.output<typeof aggregateOptions>;
