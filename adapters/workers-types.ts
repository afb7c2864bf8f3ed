// Cloudflare's runtime types for the Worker and its binding adapters, from
// @cloudflare/workers-types. Its importable entry (`latest/index.ts`, matching the Worker's
// recent compatibility date) exports them as module types instead of declaring globals, so
// they sit beside the DOM and Node types the rest of the project compiles with. Types only:
// nothing here reaches a bundle. core/ never imports this file.
export type { ExecutionContext, KVNamespace, R2Bucket, R2Object, RateLimit, ScheduledController } from '@cloudflare/workers-types/latest/index.ts';
