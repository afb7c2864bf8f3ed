export { aggregatePlugin as default, aggregatePlugin } from './plugin.ts';
