import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ErrorCode, SnappyError } from '../../core/errors.ts';
import type { GlobalFlags } from '../context.ts';

interface InitArgs extends GlobalFlags {
  dir?: string;
}

const DESCRIBE = `Set up a project in DIR (default: the current folder), creating only what is missing:
  snappy.config.ts   a typed config (defineConfig), every section optional and explained
  state/             the state layout: skills/ (with an example page when there is none), log/,
                     log/regen-queue/, ready/, staging/, canonical/, .snappy/ (--state or
                     SNAPPY_STATE put it elsewhere, as for every command)
  master key         a new random 256-bit key, printed this once, kept in
                     state/.snappy/master-key (mode 600, git-ignored, never synced), which
                     every command reads when SNAPPY_MASTER_KEY is not set. With
                     SNAPPY_MASTER_KEY set, that key is used and no file is written
  wrangler.toml      the Worker's config (docs/deploy.md), and .dev.vars: a random ops token
                     for \`wrangler dev\`
  .gitignore         the state's machine-local parts, .snappy-remote/, .dev.vars, dist/,
                     .wrangler/: lines appended only when missing
Nothing that exists is changed: run twice, the second run changes nothing and says so.`;

export const initCommand: CommandModule<GlobalFlags, InitArgs> = {
  command: 'init [dir]',
  describe: 'Set up a project: config, state layout, Worker config, .gitignore, a new master key',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .usage(`snappy init [DIR]\n\n${DESCRIBE}`)
      .positional('dir', { type: 'string', describe: 'the project folder (created when missing)' })
      .option('dry-run', { type: 'boolean', describe: 'say what would be created and create nothing' })
      .example('$0 init', 'set up the current folder')
      .example('$0 init my-fleet && cd my-fleet && snappy eval --skill example --score 0.9 --run-id r1', 'a new project, and its first eval row')
      .example('$0 init --state /srv/snappy/state', 'the state dir elsewhere (then pass --state, or set SNAPPY_STATE, on every command)') as unknown as Argv<InitArgs>,
  handler: async (argv) => {
    const { promises: fs } = await import('node:fs');
    const { scaffold } = await import('../scaffold.ts');
    const { printJson } = await import('../output.ts');
    if (argv.config !== undefined) throw new SnappyError('--config does not apply to snappy init: it writes DIR/snappy.config.ts (unless a config is already there)', { code: ErrorCode.Usage });
    if (argv.remote !== undefined) throw new SnappyError("--remote does not apply to snappy init: set the remote in the config's remote key, or pass --remote to the commands that use it", { code: ErrorCode.Usage });
    if (argv.dir === '') throw new SnappyError('the project folder is empty: give a folder, or none for the current one', { code: ErrorCode.Usage });
    if (argv.state === '') throw new SnappyError('--state is empty: give it a folder', { code: ErrorCode.Usage });
    const dir = path.resolve(argv.dir ?? '.');
    const stateFlag = argv.state ?? (process.env.SNAPPY_STATE || undefined);
    const stateDir = stateFlag !== undefined ? path.resolve(stateFlag) : path.join(dir, 'state');
    for (const [p, what] of [[dir, 'the project folder'], [stateDir, 'the state dir']] as const) {
      const st = await fs.stat(p).catch(() => null);
      if (st && !st.isDirectory()) throw new SnappyError(`${what} ${p} exists and is not a folder`, { code: ErrorCode.Usage, details: { path: p } });
    }

    const res = await scaffold({ dir, stateDir, env: process.env, dryRun: !!argv.dryRun });
    if (argv.json) {
      printJson({ ok: true, dryRun: !!argv.dryRun, ...res });
      return;
    }
    const out = (l = '') => process.stdout.write(`${l}\n`);
    const verb = { create: argv.dryRun ? 'would create' : 'created', append: argv.dryRun ? 'would add to' : 'added to', keep: 'kept' } as const;
    if (!res.changed) {
      if (!argv.quiet) out(`snappy init ${dir}: nothing to do, everything is in place (kept: ${res.steps.map((s) => s.path).join(', ')})${keyLine(res.masterKey)}`);
      return;
    }
    if (!argv.quiet) {
      out(`snappy init ${dir}${argv.dryRun ? ' (dry run: nothing is written)' : ''}`);
      const width = Math.max(...res.steps.map((s) => s.path.length));
      for (const s of res.steps) out(`  ${verb[s.action].padEnd(13)} ${s.path.padEnd(width)}  ${s.what}`);
    }
    const mk = res.masterKey;
    if (mk?.source === 'created' && mk.key) {
      // The one time the key is shown: printed even with --quiet.
      out();
      out(`The master key of tenant ${mk.tenant}, shown this once:`);
      out();
      out(`    ${mk.key}`);
      out();
      out(`It is kept in ${mk.file} (mode 600, git-ignored, never synced), which every command reads`);
      out('when SNAPPY_MASTER_KEY is not set. Keep a copy where you keep secrets (a password manager,');
      out("your CI's secret store): it names your tenant in every aggregate row, and a lost key means");
      out("a new tenant. On the tenant's other machines set SNAPPY_MASTER_KEY to it (or put it in their");
      out("state's .snappy/master-key); never commit it or put it in snappy.config.ts.");
    } else if (!argv.quiet && mk) {
      out(`master key: ${keyLine(mk).replace(/^; master key: /, '')}`);
    }
    if (argv.quiet) return;
    for (const n of res.notes) out(`note: ${n}`);
    if (!argv.dryRun) {
      const relDir = path.relative(process.cwd(), dir);
      const cd = !relDir ? '' : `cd ${JSON.stringify(relDir.startsWith('..') ? dir : relDir)} && `;
      const st = stateFlag !== undefined ? ` --state ${JSON.stringify(stateDir)}` : '';
      out();
      out(`Next: ${cd}snappy eval --skill ${res.skill} --score 0.9 --run-id r1${st}   (log a run)`);
      out(`      snappy run push --auto${st}   (the job for cron: pull, ingest, regen, push)`);
    }
  },
};

function keyLine(mk: { source: string; tenant: string; file?: string } | null): string {
  if (!mk) return '';
  return mk.source === 'env' ? `; master key: SNAPPY_MASTER_KEY (tenant ${mk.tenant})` : `; master key: ${mk.file} (tenant ${mk.tenant})`;
}
