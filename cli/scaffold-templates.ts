/** The files `snappy init` writes, as text. Each says what it is for, in its own words. */

export function configTemplate(pkg: string): string {
  return `// snappy's config for this project (made by snappy init). Every section is optional: the
// README's "Configuration" lists them all. The master key is not here: it is a secret, kept
// in state/.snappy/master-key or in SNAPPY_MASTER_KEY.
import { defineConfig } from '${pkg}';

export default defineConfig({
  // This machine's id in brief names (every tenant sees it). Default: SNAPPY_MACHINE_ID, else
  // a pseudonym made once and kept in state/.snappy/machine-id.
  // machineId: 'build-box-1',

  // Where the fleet's shared state lives. Default: the folder .snappy-remote/ beside the state
  // dir. A bucket: 's3://fleet-bucket/snappy' (with s3: { endpoint, region }). Worker mode
  // instead: worker: { url: 'https://snappy.<you>.workers.dev' } (docs/deploy.md).
  // remote: 's3://fleet-bucket/snappy',

  regen: {
    // The command that writes a new revision of a skill page when its scores sag: it gets the
    // brief on stdin (its path in SNAPPY_BRIEF) and prints the new page. Without one, snappy
    // writes the brief, keeps the marker and says so.
    // agent: ['llm', '-s', 'Rewrite this skill page as the brief asks'],
  },

  // What syncs (globs relative to the state dir; README "Sync and the remote layout").
  // sync: { allow: ['skills/*.md', 'log/evals.aggregate.ndjson', 'log/regen-queue/*', 'staging/**'], deny: [] },

  // When a staged revision is promoted (snappy run tick, and the Worker; docs/worker.md).
  // quorum: { minTenants: 3, minRuns: 5, minScore: 0.85, manualReview: ['deploy-*'] },
});
`;
}

export { EXAMPLE_PAGE, EXAMPLE_SKILL } from '../domain/example-page.ts';

/** The Worker's wrangler config for a project: docs/deploy.md walks through the placeholders. */
export function wranglerTemplate(name: string, buildCommand: string): string {
  return `# The Worker's Cloudflare config (made by snappy init). From this folder: \`npx wrangler dev\`
# to try it locally, \`npx wrangler deploy\` to deploy; docs/deploy.md walks through it.
name = "${name}"
# The build bundles the Worker with snappy.config.ts and the plugins it names; wrangler
# uploads the result as it is.
main = "dist/worker.js"
no_bundle = true
compatibility_date = "2026-04-26"
workers_dev = true

[build]
command = "${buildCommand.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"
watch_dir = ["snappy.config.ts"]

# The minute tick: quorum promotion.
[triggers]
crons = ["* * * * *"]

# The canonical page cache and last_quorum_promotion.
# Create it with \`npx wrangler kv namespace create SNAPPY_KV\` and put its id here.
[[kv_namespaces]]
binding = "SNAPPY_KV"
id = "00000000000000000000000000000000"

# The shared bucket (\`npx wrangler r2 bucket create ${name}\`): only the Worker holds access.
[[r2_buckets]]
binding = "SNAPPY_BUCKET"
bucket_name = "${name}"

# Ingest rate limit per tenant; keep SNAPPY_INGEST_LIMIT_PERIOD equal to period.
[[ratelimits]]
name = "SNAPPY_INGEST_LIMITER"
namespace_id = "1001"
simple = { limit = 120, period = 60 }

[vars]
SNAPPY_INGEST_MAX_BYTES = "1048576"
SNAPPY_INGEST_MAX_ROWS = "10000"
SNAPPY_INGEST_MAX_REVS = "100"
SNAPPY_OBJECT_MAX_BYTES = "1048576"
SNAPPY_INGEST_WINDOW_MS = "300000"
SNAPPY_INGEST_LIMIT_PERIOD = "60"

# Secrets, never in this file: \`npx wrangler secret put OPS_TOKENS\` (name:token,name:token,
# each at least 32 characters). For \`wrangler dev\` they come from .dev.vars (git-ignored).
`;
}

export function devVarsTemplate(token: string): string {
  return `# Secrets for \`npx wrangler dev\` only (made by snappy init; git-ignored). A deployed Worker
# takes its own: \`npx wrangler secret put OPS_TOKENS\`. Use this token as SNAPPY_OPS_TOKEN
# for \`snappy ops\` against the local Worker.
OPS_TOKEN=${token}
`;
}

export const GITIGNORE_HEADER = '# snappy: machine-local state, secrets and build output (snappy init)';
