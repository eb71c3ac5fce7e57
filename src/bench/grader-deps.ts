import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { SkillOptimizerError } from '../errors.js';

/**
 * Packages a suite's graders may import (`grader_dependencies` in suite.yml, see
 * docs/suite-format.md): installed once per bench into a cache folder keyed by the exact set,
 * mounted read-only into the grader sandbox and resolved by the grader host.
 */

/** npm's rules for a package name: lower case, optional scope, no leading dot or dash. */
const PACKAGE_NAME = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/;
/** An exact version: ranges, tags, URLs and paths would make two benches grade differently. */
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

export const graderDependenciesSchema = z.record(
  z.string().max(214).regex(PACKAGE_NAME, {
    error: 'expected an npm package name (lower case, optional @scope/)',
  }),
  z.string({ error: 'expected an exact version such as 4.4.0' }).regex(EXACT_VERSION, {
    error: 'expected an exact version such as 4.4.0 (no ranges, tags, URLs or paths)',
  }),
  {
    error: 'expected a mapping of npm package name (lower case, optional @scope/) to exact version',
  },
);

export type GraderDependencies = Record<string, string>;

/** Installs `dependencies` into `dir` (which holds their package.json), leaving `dir/node_modules`. */
export type DependencyInstaller = (dir: string, dependencies: GraderDependencies) => Promise<void>;

/** The grader dependencies could not be installed; no probe of the suite can be graded. */
export class GraderDependencyError extends SkillOptimizerError {}

const INSTALLED_MARK = '.installed';
const NPM_TIMEOUT_MS = 300_000;

export function defaultGraderDepsCache(): string {
  return join(homedir(), '.cache', 'skill-optimizer', 'grader-deps');
}

/** The npm command line for one install: no lifecycle scripts, no audit, no funding notes. */
export function npmInstallArgs(): string[] {
  return [
    'install',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--omit=dev',
    '--loglevel=error',
  ];
}

/** The real installer: `npm install` in `dir`, from the registry npm is configured for. */
export const npmInstaller: DependencyInstaller = async (dir) => {
  try {
    await promisify(execFile)('npm', npmInstallArgs(), {
      cwd: dir,
      timeout: NPM_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    const said = (failure.stderr ?? '').trim().split('\n').slice(-8).join('\n');
    const why = failure.code === 'ENOENT' ? 'npm was not found on PATH' : said || failure.message;
    throw new GraderDependencyError(`npm install of the grader dependencies failed: ${why}`, {
      cause: error,
    });
  }
};

function cacheKey(dependencies: GraderDependencies): string {
  const sorted = Object.keys(dependencies)
    .sort()
    .map((name) => [name, dependencies[name]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Each package is in `root/node_modules` at the version asked for; else says which is not. */
async function checkInstalled(root: string, dependencies: GraderDependencies): Promise<void> {
  for (const [name, version] of Object.entries(dependencies)) {
    const manifest = join(root, 'node_modules', ...name.split('/'), 'package.json');
    let found: unknown;
    try {
      found = (JSON.parse(await readFile(manifest, 'utf8')) as { version?: unknown }).version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new GraderDependencyError(`grader dependency ${name}@${version} was not installed`);
    }
    if (found !== version) {
      throw new GraderDependencyError(
        `grader dependency ${name}: installed version ${String(found)}, expected ${version}`,
      );
    }
  }
}

/**
 * The folder (holding `node_modules/`) with exactly `dependencies` installed, or null when there
 * are none. A set installed before is reused from `cacheDir`; a new set is installed in a
 * scratch folder and moved into place only once complete, so an interrupted install is never
 * reused and two benches installing at once both end with a whole folder.
 */
export async function prepareGraderDependencies(
  dependencies: GraderDependencies,
  opts: { cacheDir: string; install?: DependencyInstaller; log?: (line: string) => void },
): Promise<string | null> {
  if (Object.keys(dependencies).length === 0) return null;
  const checked = graderDependenciesSchema.safeParse(dependencies);
  if (!checked.success) {
    throw new GraderDependencyError(
      `invalid grader dependencies: ${z.prettifyError(checked.error)}`,
    );
  }
  const final = join(opts.cacheDir, cacheKey(dependencies));
  if (await exists(join(final, INSTALLED_MARK))) return final;

  const listed = Object.entries(dependencies)
    .map(([name, version]) => `${name}@${version}`)
    .join(', ');
  opts.log?.(`installing grader dependencies ${listed} into ${final}`);
  await mkdir(opts.cacheDir, { recursive: true });
  const scratch = await mkdtemp(`${final}.partial-`);
  try {
    const manifest = { name: 'skill-optimizer-grader-deps', private: true, dependencies };
    await writeFile(join(scratch, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await (opts.install ?? npmInstaller)(scratch, dependencies);
    await checkInstalled(scratch, dependencies);
    await writeFile(join(scratch, INSTALLED_MARK), '');
    try {
      await rename(scratch, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another bench finished the same set first; its folder is as good as ours.
      if (
        (code !== 'EEXIST' && code !== 'ENOTEMPTY') ||
        !(await exists(join(final, INSTALLED_MARK)))
      )
        throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return final;
}
