export { syncPlugin as default, syncPlugin } from './plugin.ts';
export { syncOptionsSchema, DEFAULT_ALLOW, type SyncOptions } from './options.ts';
