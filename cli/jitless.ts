import { z } from 'zod';

// zod compiles each object schema into a function on its first parse. A CLI run parses a
// config and a few options once: compiling costs more than it saves (some 80 ms of a no-op
// push). The hot paths (aggregate rows) check lines without zod. Imported first by context.ts.
z.config({ jitless: true });
