import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runGit } from './git.js';
import { restoreToHead, saveUncommitted, uncommittedPaths } from './worktree.js';

/** Where uncommitted work found on open is kept before the work tree is reset. */
export function recoveredRef(slug: string): string {
  return `refs/skill-optimizer/recovered/${slug}`;
}

export interface RecoveryTarget {
  slug: string;
  runDir: string;
  worktreeDir: string;
  /** A folder on the worktree's filesystem for a scratch index. */
  scratchDir: string;
}

/**
 * Puts back a work tree that an interrupted process left with uncommitted changes, so no
 * half-written step survives. What is discarded is first kept under `recoveredRef(slug)`.
 */
export async function recoverInterruptedStep(
  target: RecoveryTarget,
  identity: Record<string, string>,
  onRecover: (message: string) => void,
): Promise<void> {
  const dirty = await uncommittedPaths(target.worktreeDir, target.runDir);
  if (dirty.length === 0) return;
  const head = (await runGit(['rev-parse', 'HEAD'], { cwd: target.worktreeDir })).stdout.trim();
  const ref = recoveredRef(target.slug);
  await saveUncommitted({
    dir: target.worktreeDir,
    runDir: target.runDir,
    ref,
    message: `skill-optimizer(${target.slug}): uncommitted changes found on open`,
    scratchDir: target.scratchDir,
    identity,
  });
  await restoreToHead(target.worktreeDir, target.runDir);
  const more = dirty.length > 5 ? `, … (${dirty.length} in all)` : '';
  const short = head.slice(0, 12);
  onRecover(
    `run '${target.slug}': an interrupted step left uncommitted changes (${dirty.slice(0, 5).join(', ')}${more}); the work tree is back at ${short}, the last complete commit. The discarded state is kept as ${ref} (git diff ${short} ${ref})`,
  );
}

/**
 * Removes the index lock a killed git left in the worktree; only safe once the dead run's lock
 * was taken over. Returns the removed file, or null when there was none.
 */
export async function removeStaleIndexLock(worktreeDir: string): Promise<string | null> {
  const gitDir = await runGit(['rev-parse', '--absolute-git-dir'], {
    cwd: worktreeDir,
    okCodes: [128],
  });
  if (gitDir.exitCode !== 0) return null;
  const lockFile = join(gitDir.stdout.trim(), 'index.lock');
  try {
    await rm(lockFile);
    return lockFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
