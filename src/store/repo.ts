import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EmptyRepositoryError, InvalidRunNameError, NotAGitRepoError } from './errors.js';
import { runGit } from './git.js';

/** The top folder of the work tree that contains `dir`. */
export async function repoRoot(dir: string): Promise<string> {
  const folder = resolve(dir);
  const info = await stat(folder).catch((error: unknown) => {
    throw new NotAGitRepoError(`${folder} does not exist or cannot be read`, { cause: error });
  });
  if (!info.isDirectory()) throw new NotAGitRepoError(`${folder} is not a folder`);
  // One process: outside a work tree git prints 'false' or fails (128) instead of the top.
  const probe = await runGit(['rev-parse', '--is-inside-work-tree', '--show-toplevel'], {
    cwd: folder,
    okCodes: [128],
  });
  const [inside, top] = probe.stdout.split('\n');
  if (probe.exitCode !== 0 || inside?.trim() !== 'true' || top === undefined || top === '') {
    throw new NotAGitRepoError(
      `${folder} is not inside a git work tree; the run keeps its history in git, so run \`git init\` there and commit the skill first`,
    );
  }
  return top.trim();
}

/** The repository's shared .git folder (the same for every worktree), absolute. */
export async function gitCommonDir(root: string): Promise<string> {
  const result = await runGit(['rev-parse', '--git-common-dir'], { cwd: root });
  return resolve(root, result.stdout.trim());
}

/** The commit HEAD points at; throws EmptyRepositoryError when there is none yet. */
export async function requireHeadCommit(root: string): Promise<string> {
  const result = await runGit(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], {
    cwd: root,
    okCodes: [1],
  });
  const sha = result.stdout.trim();
  if (result.exitCode !== 0 || sha === '') {
    throw new EmptyRepositoryError(
      `${root} has no commits yet; the work branch starts from the current commit, so commit the skill first (git add -A && git commit -m "Add skill")`,
    );
  }
  return sha;
}

/**
 * True when the user's working tree has uncommitted changes (staged, unstaged or untracked, not
 * ignored) at or under `relPath` (relative to `repoDir`).
 */
export async function isPathDirty(repoDir: string, relPath: string): Promise<boolean> {
  const result = await runGit(
    ['--literal-pathspecs', 'status', '--porcelain', '-z', '--untracked-files=all', '--', relPath],
    { cwd: repoDir, env: { GIT_OPTIONAL_LOCKS: '0' } },
  );
  return result.stdout.length > 0;
}

/** Refuses a work-branch name git would not accept. */
export async function checkBranchName(root: string, branch: string): Promise<void> {
  const result = await runGit(['check-ref-format', '--branch', branch], {
    cwd: root,
    okCodes: [1, 128],
  });
  if (result.exitCode !== 0 || branch.startsWith('-')) {
    throw new InvalidRunNameError(`'${branch}' is not a valid git branch name for the work branch`);
  }
}

/** True when `refs/heads/<branch>` exists. */
export async function branchExists(root: string, branch: string): Promise<boolean> {
  const result = await runGit(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], {
    cwd: root,
    okCodes: [1],
  });
  return result.exitCode === 0;
}
