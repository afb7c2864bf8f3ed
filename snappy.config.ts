// The config of the embedded default: the example state in ./state, and the file remote
// .snappy-remote/ beside it. Every section is optional; see README "Configuration".
import { defineConfig } from 'snappy-os';

export default defineConfig({
  regen: {
    // The command that writes a new revision of a skill: it gets the brief on stdin (and its
    // path in SNAPPY_BRIEF) and prints the new page. This example needs no model; point it at
    // your LLM CLI instead, e.g. ['llm', '-s', 'Rewrite this skill page as the brief asks'].
    agent: ['node', 'examples/regen-agent.mjs'],
  },
});
