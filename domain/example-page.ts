/**
 * The page `snappy init` starts a state dir with when it has none. Every machine set up that
 * way holds this copy, so sync treats it as a version the page had, never as a local edit.
 */
export const EXAMPLE_SKILL = 'example';

export const EXAMPLE_PAGE = `---
name: example
description: >
  What this skill is for, in a sentence or two. Agents that use the skill read
  this page, and so does the regen agent that rewrites it.
tags:
  - example
# manual_review: your-name   # new revisions of this page then wait for an operator
---
# example

Replace this page with a real skill: the instructions an agent follows. Log how each run
went, e.g. \`snappy eval --skill example --score 0.9 --run-id r1\`; when the scores sag,
snappy drops a marker and asks the regen agent for a better page.
`;
