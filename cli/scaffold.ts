import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from './package-root.ts';
import { ErrorCode, SnappyError } from '../core/errors.ts';
import { tenantIdOf } from '../domain/hash.ts';
import { State } from '../domain/state-layout.ts';
import { MASTER_KEY_FILE, newMasterKey } from './master-key.ts';
import { configTemplate, devVarsTemplate, EXAMPLE_PAGE, EXAMPLE_SKILL, GITIGNORE_HEADER, wranglerTemplate } from './scaffold-templates.ts';

const ROOT = PACKAGE_ROOT;

/** One thing `snappy init` sees to: made now, or already there and left alone. */
export interface ScaffoldStep {
  /** Relative to the project dir when inside it, else absolute. */
  path: string;
  action: 'create' | 'keep' | 'append';
  what: string;
}

export interface ScaffoldResult {
  dir: string;
  stateDir: string;
  steps: ScaffoldStep[];
  /** Lines appended to .gitignore. */
  gitignoreAdded: string[];
  /** The key this machine uses: made now (then `key` is shown, this once), in the key file, or in the environment. */
  masterKey: { source: 'created' | 'file' | 'env'; tenant: string; file?: string; key?: string } | null;
  changed: boolean;
  /** What to check next, one line each. */
  notes: string[];
  /** A skill with a page in the state, for the next steps shown. */
  skill: string;
}

const CONFIG_FILES = ['snappy.config.ts', 'snappy.config.mts', 'snappy.config.js', 'snappy.config.mjs', 'snappy.config.json'];
const WRANGLER_FILES = ['wrangler.toml', 'wrangler.json', 'wrangler.jsonc'];
/** The state layout (docs/contract.md §4): pages, logs and briefs, markers, revisions, canonical, internals. */
const STATE_DIRS = [State.skillsDir, 'log/', State.regenQueueDir, State.readyDir, State.stagingDir, 'canonical/', State.internalDir];

/**
 * Sets up a project in `dir` with its state in `stateDir`: creates what is missing and never
 * changes what exists (a file that appears meanwhile is kept too: every file is created
 * exclusively). With `dryRun` it only says what it would do.
 */
export async function scaffold(opts: { dir: string; stateDir: string; env: NodeJS.ProcessEnv; dryRun: boolean }): Promise<ScaffoldResult> {
  const { dir, stateDir, dryRun } = opts;
  const rel = (p: string) => (isInside(dir, p) ? posix(path.relative(dir, p)) : p);
  const steps: ScaffoldStep[] = [];
  const step = (p: string, action: ScaffoldStep['action'], what: string) => steps.push({ path: rel(p), action, what });
  const io = <T>(p: string, fn: () => Promise<T>) =>
    fn().catch((err: NodeJS.ErrnoException) => {
      throw new SnappyError(`init: cannot write ${p}: ${err.code ?? err.message}`, { code: ErrorCode.Invalid, step: 'init', details: { path: p }, cause: err });
    });
  /** Creates a file unless it exists; false when it did. */
  const create = async (p: string, text: string, mode = 0o644): Promise<boolean> => {
    if (dryRun) return !existsSync(p);
    return io(p, async () => {
      await fs.mkdir(path.dirname(p), { recursive: true });
      try {
        await fs.writeFile(p, text, { flag: 'wx', mode });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    });
  };

  if (!dryRun) await io(dir, () => fs.mkdir(dir, { recursive: true }));

  // The config: any config snappy would find here counts.
  const pkg = packageName();
  const found = CONFIG_FILES.find((n) => existsSync(path.join(dir, n))) ?? (hasPackageConfig(dir) ? 'package.json' : undefined);
  if (found) step(path.join(dir, found), 'keep', 'config');
  else if (await create(path.join(dir, 'snappy.config.ts'), configTemplate(pkg))) step(path.join(dir, 'snappy.config.ts'), 'create', 'typed config (defineConfig); every section optional');
  else step(path.join(dir, 'snappy.config.ts'), 'keep', 'config');

  // The state layout (docs/contract.md §4), and an example page when the state has no page yet.
  const made: string[] = [];
  for (const d of STATE_DIRS) {
    const p = path.join(stateDir, d);
    if (existsSync(p)) continue;
    if (!dryRun) await io(p, () => fs.mkdir(p, { recursive: true }));
    made.push(d);
  }
  step(stateDir, made.length ? 'create' : 'keep', `the state layout${made.length ? `: ${made.join(' ')}` : ''}`);
  const skillsDir = path.join(stateDir, State.skillsDir);
  const hasPage = existsSync(skillsDir) && (await fs.readdir(skillsDir)).some((n) => n.endsWith('.md'));
  if (!hasPage) {
    const page = path.join(stateDir, State.skill(EXAMPLE_SKILL));
    if (await create(page, EXAMPLE_PAGE)) step(page, 'create', 'an example skill page: rename or replace it');
  }

  // The master key: the environment's when set, else the key file, else a new one in the file.
  let masterKey: ScaffoldResult['masterKey'] = null;
  const keyFile = path.join(stateDir, MASTER_KEY_FILE);
  if (opts.env.SNAPPY_MASTER_KEY) {
    masterKey = { source: 'env', tenant: await tenantIdOf(opts.env.SNAPPY_MASTER_KEY) };
  } else if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (key) masterKey = { source: 'file', tenant: await tenantIdOf(key), file: rel(keyFile) };
    step(keyFile, 'keep', 'master key');
  } else if (!dryRun) {
    const key = newMasterKey();
    if (await create(keyFile, `${key}\n`, 0o600)) {
      masterKey = { source: 'created', tenant: await tenantIdOf(key), file: rel(keyFile), key };
      step(keyFile, 'create', "this machine's copy of the tenant's master key (mode 600, never synced)");
    } else {
      step(keyFile, 'keep', 'master key');
    }
  } else {
    step(keyFile, 'create', "a new master key (mode 600, never synced)");
  }

  // The Worker's config, and a local ops token for `wrangler dev`.
  const wrangler = WRANGLER_FILES.find((n) => existsSync(path.join(dir, n)));
  if (wrangler) step(path.join(dir, wrangler), 'keep', "the Worker's config");
  else if (await create(path.join(dir, 'wrangler.toml'), wranglerTemplate(workerName(dir), buildCommand(dir)))) step(path.join(dir, 'wrangler.toml'), 'create', "the Worker's config (npx wrangler dev | deploy; docs/deploy.md)");
  const devVars = path.join(dir, '.dev.vars');
  if (existsSync(devVars)) step(devVars, 'keep', 'local Worker secrets');
  else if (await create(devVars, devVarsTemplate(randomBytes(32).toString('base64url')), 0o600)) step(devVars, 'create', 'a random ops token for wrangler dev');

  // .gitignore: our lines, appended when missing.
  const gitignore = path.join(dir, '.gitignore');
  const existing = existsSync(gitignore) ? await fs.readFile(gitignore, 'utf8') : '';
  const have = new Set(existing.split(/\r?\n/).map(normalizeIgnore));
  const wanted = ignoreEntries(dir, stateDir);
  const missing = wanted.filter((l) => !have.has(normalizeIgnore(l)));
  if (missing.length) {
    const text = `${existing && !existing.endsWith('\n') ? '\n' : ''}${existing ? '\n' : ''}${GITIGNORE_HEADER}\n${missing.join('\n')}\n`;
    if (!dryRun) await io(gitignore, () => fs.appendFile(gitignore, text));
    step(gitignore, existing ? 'append' : 'create', `${missing.length} entr${missing.length === 1 ? 'y' : 'ies'}: ${missing.join(' ')}`);
  } else step(gitignore, 'keep', 'every entry snappy needs is there');

  const notes: string[] = [];
  if (!resolvable(pkg, dir)) notes.push(`snappy.config.ts imports '${pkg}', which does not resolve from ${dir}: install the package there (npm install --save-dev ${ROOT})`);
  if (!isInside(dir, stateDir)) notes.push(`the state dir ${stateDir} is outside ${dir}: its entries are not in ${rel(gitignore)}; keep it out of version control`);
  const pages = existsSync(skillsDir) ? (await fs.readdir(skillsDir)).filter((n) => n.endsWith('.md')).sort() : [];
  const skill = pages[0]?.slice(0, -3) ?? EXAMPLE_SKILL;
  return { dir, stateDir, steps, gitignoreAdded: missing, masterKey, changed: steps.some((s) => s.action !== 'keep'), notes, skill };
}

/** The lines of .gitignore snappy needs, relative to the project dir. */
function ignoreEntries(dir: string, stateDir: string): string[] {
  const out: string[] = [];
  const remote = path.join(path.dirname(stateDir), '.snappy-remote');
  if (isInside(dir, remote)) out.push(`${posix(path.relative(dir, remote))}/`);
  if (isInside(dir, stateDir)) {
    const s = posix(path.relative(dir, stateDir));
    // Pages may be tracked; everything else in the state is this machine's or the fleet's.
    out.push(`${s}/.snappy/`, `${s}/ready/`, `${s}/staging/`, `${s}/canonical/`, `${s}/log/`, `${s}/skills/*.md.*`);
  }
  out.push('dist/', '.wrangler/', '.dev.vars');
  return out;
}

function normalizeIgnore(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/$/, '');
}

function isInside(dir: string, p: string): boolean {
  const r = path.relative(dir, p);
  return r !== '' && !r.startsWith('..') && !path.isAbsolute(r);
}

function posix(p: string): string {
  return p.split(path.sep).join('/');
}

function hasPackageConfig(dir: string): boolean {
  try {
    return 'snappy' in (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as object);
  } catch {
    return false;
  }
}

function packageName(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;
}

/** Whether `import '<pkg>'` resolves from `dir` (node_modules up the tree, or the package itself). */
function resolvable(pkg: string, dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'node_modules', pkg, 'package.json'))) return true;
    if (d === ROOT) return true;
    if (path.dirname(d) === d) return false;
  }
}

/** The Worker's name: the folder's name as Cloudflare accepts it. */
function workerName(dir: string): string {
  const n = path.basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return n || 'snappy';
}

/** The build command, naming the build script of this snappy from the project dir. */
function buildCommand(dir: string): string {
  const script = path.join(ROOT, 'worker', 'build.mjs');
  const shown = isInside(dir, script) ? posix(path.relative(dir, script)) : script;
  return `node ${/\s/.test(shown) ? JSON.stringify(shown) : shown} --outfile dist/worker.js`;
}
