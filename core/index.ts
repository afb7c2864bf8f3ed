export * from './errors.ts';
export * from './stages.ts';
export * from './hooks.ts';
export * from './plugin.ts';
export * from './ports.ts';
export * from './config.ts';
export * from './order.ts';
export * from './validate.ts';
export { createRunner, Runner, veto, attribute, type RunnerOptions } from './runner.ts';
export { runTick } from './tick.ts';
/** The zod that snappy validates with, for plugin option schemas. */
export { z } from 'zod';
