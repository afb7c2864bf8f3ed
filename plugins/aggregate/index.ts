export { aggregatePlugin as default, aggregatePlugin } from './plugin.ts';
export type { AggregateScope, AggregateService } from './service.ts';
export { AGGREGATE_SERVICE } from './service.ts';
