export * from './errors.ts';
export * from './stages.ts';
export * from './context.ts';
export * from './hooks.ts';
export * from './services.ts';
export * from './plugin.ts';
export * from './ports.ts';
export * from './config.ts';
export * from './assemble.ts';
export * from './order.ts';
export * from './validate.ts';
export { createRunner, Runner, veto, attribute, LIFECYCLE, type RunnerOptions } from './runner.ts';
/** The zod that snappy validates with, for plugin option schemas. */
export { z } from 'zod';
/** The tapable hook kinds, for plugins that declare hooks of their own (`ctx.defineHook`). */
export { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook, SyncWaterfallHook } from 'tapable';
