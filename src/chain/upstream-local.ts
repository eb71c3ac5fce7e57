import { realpath, stat } from 'node:fs/promises';
import { basename, relative, resolve, sep } from 'node:path';
import { SkillOptimizerError } from '../errors.js';
import { ObjectReader } from '../store/cat-file.js';
import { GitError, runGit } from '../store/git.js';
import type { UpstreamInfo, UpstreamReader } from './ports.js';

/**
 * Step 2's read-only view of an upstream repository in local mode: a git repository on disk,
 * read from its HEAD commit (never its working tree, never written to).
 */

/** The upstream source is not a git repository (or not a folder at all). */
export class NotAGitRepositoryError extends SkillOptimizerError {}

export interface LocalUpstreamOptions {
  /** Relative sources resolve against this folder (default: the process's working folder). */
  baseDir?: string;
  /** Most recent commits listed (default 20). */
  maxChanges?: number;
}

const MAX_EXAMPLES = 5;
const MAX_BODY_CHARS = 1500;
const MAX_DOC_CHARS = 20_000;
const LICENSE_FILE = /^(?:licen[cs]e|copying)(?:[.-][\w.-]+)?$/i;
const CONTRIBUTING_FILE = /^contributing(?:\.(?:md|markdown|txt|rst))?$/i;
const FRONTMATTER = /^---[ \t]*\r?\n[\s\S]*?\r?\n---[ \t]*(?:\r?\n|$)/;

const git = async (cwd: string, ...args: string[]) => (await runGit(args, { cwd })).stdout;

async function repositoryRoot(folder: string, source: string): Promise<string> {
  const info = await stat(folder).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  });
  if (info === null || !info.isDirectory()) {
    throw new NotAGitRepositoryError(
      `upstream source '${source}' is not a folder (looked for ${folder})`,
    );
  }
  try {
    return (await git(folder, 'rev-parse', '--show-toplevel')).trim();
  } catch (error) {
    if (!(error instanceof GitError) || error.exitCode === null) throw error;
    throw new NotAGitRepositoryError(
      `upstream source '${source}' is not inside a git repository (${folder})`,
      { cause: error },
    );
  }
}

/** `owner/name` of a GitHub-style remote URL (https, ssh or scp-like); null otherwise. */
export function ownerAndName(url: string): string | null {
  const m = /[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url.trim());
  return m?.[1] && m[2] ? `${m[1]}/${m[2]}` : null;
}

async function repoName(root: string): Promise<string> {
  const remote = await runGit(['config', '--get', 'remote.origin.url'], {
    cwd: root,
    okCodes: [1],
  });
  return (remote.exitCode === 0 ? ownerAndName(remote.stdout) : null) ?? basename(root);
}

async function defaultBranch(root: string): Promise<string> {
  const head = await runGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], {
    cwd: root,
    okCodes: [1],
  });
  if (head.exitCode === 0 && head.stdout.trim() !== '') return head.stdout.trim();
  const origin = await runGit(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], {
    cwd: root,
    okCodes: [1],
  });
  if (origin.exitCode === 0) return origin.stdout.trim().replace(/^origin\//, '');
  throw new SkillOptimizerError(
    `cannot tell the default branch of ${root}: HEAD is detached and origin/HEAD is not set; check out the branch PRs go to`,
  );
}

const cut = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)}\n[truncated]` : text;

/** A file of HEAD (a path ls-tree listed), read through the repository's one cat-file. */
async function showFile(objects: ObjectReader, root: string, path: string): Promise<string> {
  const found = await objects.read('HEAD', path);
  if (found === null || found.type !== 'blob') {
    throw new SkillOptimizerError(`upstream repository ${root} has no file ${path} at HEAD`);
  }
  return cut(found.content.toString('utf8'), MAX_DOC_CHARS);
}

async function recentChanges(root: string, max: number): Promise<UpstreamInfo['recentChanges']> {
  const log = await git(
    root,
    'log',
    '--topo-order',
    `-n${max}`,
    '--format=%P%x00%s%x00%b%x1e',
    'HEAD',
  );
  return log
    .split('\x1e')
    .map((entry) => entry.replace(/^\n/, ''))
    .filter((entry) => entry.trim() !== '')
    .map((entry) => {
      const [parents = '', title = '', body = ''] = entry.split('\x00');
      const merge = parents.trim().split(/\s+/).length > 1;
      return {
        title: merge ? `${title} (merge commit)` : title,
        state: 'merged' as const,
        body: cut(body.trim(), MAX_BODY_CHARS),
      };
    });
}

function topLevelFile(paths: readonly string[], pattern: RegExp): string | null {
  return paths.find((p) => !p.includes('/') && pattern.test(p)) ?? null;
}

/** Reads an upstream repository on disk; `source` is the repository or a folder inside it. */
export function createLocalUpstreamReader(options: LocalUpstreamOptions = {}): UpstreamReader {
  return {
    async read(source) {
      const given = resolve(options.baseDir ?? process.cwd(), source);
      const root = await repositoryRoot(given, source);
      const folder = await realpath(given);
      const hasCommit = await runGit(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], {
        cwd: root,
        okCodes: [1],
      });
      if (hasCommit.exitCode !== 0) {
        throw new NotAGitRepositoryError(`upstream repository ${root} has no commits yet`);
      }
      const paths = (await git(root, 'ls-tree', '-r', '-z', '--name-only', 'HEAD'))
        .split('\0')
        .filter((p) => p !== '');
      const license = topLevelFile(paths, LICENSE_FILE);
      const contributing =
        topLevelFile(paths, CONTRIBUTING_FILE) ??
        paths.find((p) => /^(?:\.github|docs)\/contributing(?:\.md)?$/i.test(p)) ??
        null;

      const inside = relative(root, folder).split(sep).join('/');
      const skillPath = inside !== '' && paths.includes(`${inside}/SKILL.md`) ? inside : null;
      // Every file through one cat-file, and the independent questions to git at once.
      const objects = new ObjectReader(root);
      try {
        const examples = async () => {
          const found: string[] = [];
          for (const p of paths.filter((q) => q === 'SKILL.md' || q.endsWith('/SKILL.md'))) {
            if (found.length >= MAX_EXAMPLES) break;
            const fm = FRONTMATTER.exec(await showFile(objects, root, p));
            if (fm) found.push(`# ${p}\n${fm[0].trim()}`);
          }
          return found;
        };
        const [repo, branch, licenseText, contributingText, changes, frontmatters] =
          await Promise.all([
            repoName(root),
            defaultBranch(root),
            license === null ? null : showFile(objects, root, license),
            contributing === null ? null : showFile(objects, root, contributing),
            recentChanges(root, options.maxChanges ?? 20),
            examples(),
          ]);
        return {
          repo,
          defaultBranch: branch,
          license: licenseText,
          contributing: contributingText,
          recentChanges: changes,
          skillFrontmatterExamples: frontmatters,
          skillPath,
        };
      } finally {
        objects.close();
      }
    },
  };
}
