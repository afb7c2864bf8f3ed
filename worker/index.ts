// The Worker module: thin adapter from workerd's handlers to the core.
import './jitless.ts';
import config from 'snappy:worker-config';
import { createWorkerApp } from './app.ts';

// Built at module top level, where workerd still allows the code generation hooks compile to.
const app = createWorkerApp(config);

export default {
  fetch: app.fetch,
  scheduled: app.scheduled,
};
