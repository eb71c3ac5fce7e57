import { existsSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WorktreeConflictError } from './errors.js';
import { runGit } from './git.js';
import { branchExists } from './repo.js';

/** Keeps user hooks (post-checkout, pre-commit, ...) out of the tool's own git operations. */
export const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'] as const;

interface WorktreeEntry {
  path: string;
  branch: string | null;
}

async function listWorktrees(root: string): Promise<WorktreeEntry[]> {
  const result = await runGit(['worktree', 'list', '--porcelain'], { cwd: root });
  const entries: WorktreeEntry[] = [];
  for (const block of result.stdout.split('\n\n')) {
    const lines = block.split('\n');
    const path = lines.find((line) => line.startsWith('worktree '))?.slice('worktree '.length);
    if (path === undefined) continue;
    const branch = lines.find((line) => line.startsWith('branch '))?.slice('branch '.length);
    entries.push({ path, branch: branch ?? null });
  }
  return entries;
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);
  return real(a) === real(b);
}

export interface WorktreeSpec {
  root: string;
  dir: string;
  branch: string;
  /** Where a new branch starts. */
  startPoint: string;
}

/**
 * Makes sure `spec.branch` is checked out at `spec.dir`, a worktree the tool owns, creating the
 * branch from `startPoint` if needed. Never switches any other checkout.
 */
export async function ensureWorktree(spec: WorktreeSpec): Promise<{ createdBranch: boolean }> {
  const ref = `refs/heads/${spec.branch}`;
  let entries = await listWorktrees(spec.root);
  if (entries.some((entry) => !existsSync(entry.path))) {
    await runGit(['worktree', 'prune'], { cwd: spec.root });
    entries = await listWorktrees(spec.root);
  }
  const holder = entries.find((entry) => entry.branch === ref);
  if (holder !== undefined && samePath(holder.path, spec.dir)) return { createdBranch: false };
  if (holder !== undefined) {
    throw new WorktreeConflictError(
      `branch ${spec.branch} is checked out at ${holder.path}, but the run keeps it in its own worktree; switch that checkout to another branch (git -C ${holder.path} switch -) and retry`,
    );
  }
  const occupant = entries.find((entry) => samePath(entry.path, spec.dir));
  if (occupant !== undefined) {
    throw new WorktreeConflictError(
      `the run's worktree ${spec.dir} is on ${occupant.branch ?? 'a detached HEAD'} instead of ${ref}; remove it (git worktree remove --force ${spec.dir}) and retry`,
    );
  }
  // A folder left where no worktree is registered is a leftover of the tool's own.
  await rm(spec.dir, { recursive: true, force: true });
  await mkdir(join(spec.dir, '..'), { recursive: true });
  const createdBranch = !(await branchExists(spec.root, spec.branch));
  const add = createdBranch
    ? ['worktree', 'add', '--quiet', '-b', spec.branch, spec.dir, spec.startPoint]
    : ['worktree', 'add', '--quiet', spec.dir, spec.branch];
  await runGit([...NO_HOOKS, ...add], { cwd: spec.root });
  return { createdBranch };
}

/**
 * Paths that differ from HEAD in the worktree: tracked changes anywhere, and untracked or ignored
 * files under `runDir` (the tool's own files elsewhere, e.g. build output, are left alone).
 */
export async function uncommittedPaths(dir: string, runDir: string): Promise<string[]> {
  const result = await runGit(
    ['status', '--porcelain', '-z', '--untracked-files=all', '--ignored=matching', '--no-renames'],
    { cwd: dir },
  );
  const paths: string[] = [];
  for (const record of result.stdout.split('\0')) {
    if (record.length < 4) continue;
    const code = record.slice(0, 2);
    const path = record.slice(3);
    const untracked = code === '??' || code === '!!';
    if (!untracked || path === runDir || path.startsWith(`${runDir}/`)) paths.push(path);
  }
  return paths;
}

/** Puts the worktree back at HEAD: tracked files reset, anything new under `runDir` removed. */
export async function restoreToHead(dir: string, runDir: string): Promise<void> {
  await runGit(['reset', '--hard', '--quiet', 'HEAD'], { cwd: dir });
  await runGit(['--literal-pathspecs', 'clean', '-ffdxq', '--', runDir], { cwd: dir });
}

/**
 * Records the worktree's uncommitted state (tracked changes plus everything under `runDir`) as a
 * commit on top of HEAD under `ref`, without touching the branch, the index or the files.
 */
export async function saveUncommitted(opts: {
  dir: string;
  runDir: string;
  ref: string;
  message: string;
  scratchDir: string;
  identity: Record<string, string>;
}): Promise<string> {
  await mkdir(opts.scratchDir, { recursive: true });
  const scratch = await mkdtemp(join(opts.scratchDir, 'index-'));
  try {
    const env = { ...opts.identity, GIT_INDEX_FILE: join(scratch, 'index') };
    const git = (args: string[], input?: string) =>
      runGit(args, { cwd: opts.dir, env, ...(input === undefined ? {} : { input }) });
    await git(['read-tree', 'HEAD']);
    await git(['add', '--update']);
    await git(['--literal-pathspecs', 'add', '--all', '--force', '--', opts.runDir]);
    const tree = (await git(['write-tree'])).stdout.trim();
    const commit = (
      await git(['commit-tree', tree, '-p', 'HEAD', '-F', '-'], opts.message)
    ).stdout.trim();
    await git(['update-ref', '--create-reflog', '-m', opts.message, opts.ref, commit]);
    return commit;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
