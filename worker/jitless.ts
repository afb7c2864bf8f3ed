import { z } from 'zod';

// workerd forbids code generation after the module's top level; zod's JIT would try it on
// the first parse inside a request. Imported first by worker/index.ts so nothing parses before.
z.config({ jitless: true });
