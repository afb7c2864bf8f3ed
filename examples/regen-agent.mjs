#!/usr/bin/env node
// An example regen agent that needs no model: it reads the brief on stdin (its path is also
// in SNAPPY_BRIEF) and prints a revised page for the brief's skill. A real agent would hand
// the brief to an LLM CLI and print its answer. It is deterministic, so the demo and the
// fleet tests get the same rev ids every run. Skills named in FLEET_AGENT_MANUAL
// (comma-separated) get `manual_review: robert`, to show the gate.
let brief = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) brief += chunk;
const skill = /^skill:\s*"?([A-Za-z0-9._-]+)"?\s*$/m.exec(brief)?.[1];
if (!skill) {
  process.stderr.write('regen-agent: the brief names no skill\n');
  process.exit(1);
}
const manual = (process.env.FLEET_AGENT_MANUAL ?? '').split(',').includes(skill);
const lines = ['---', `name: ${skill}`, `description: ${skill}, revised after its scores dropped`];
if (manual) lines.push('manual_review: robert');
lines.push('---', `# ${skill}`, '', '1. Restate the input in one sentence.', '2. Check every claim against the source before writing it.', '3. Say plainly what you could not determine.', '');
process.stdout.write(lines.join('\n'));
