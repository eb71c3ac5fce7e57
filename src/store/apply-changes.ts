import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PathEscapeError } from '../errors.js';

/** A change whose path is already normalised and repository-relative. */
export type RepoChange =
  | { path: string; content: string | Buffer }
  | { path: string; delete: true };

/** Refuses to go through a symlinked folder, which could lead outside the work tree. */
async function assertRealFolders(root: string, repoPath: string): Promise<void> {
  const segments = repoPath.split('/');
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    const info = await lstat(current).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
    if (info === null) return;
    if (info.isSymbolicLink()) {
      throw new PathEscapeError(
        `cannot write ${repoPath}: ${current} is a symlink, which could lead outside the work tree`,
      );
    }
  }
}

/**
 * Writes every new content into `stagingDir` first (so a failure there touches nothing), then
 * applies the changes to the work tree at `root` in order: deletes remove files or whole folders,
 * writes replace files and create folders. `stagingDir` must be on the same filesystem as `root`.
 */
export async function applyChanges(
  root: string,
  stagingDir: string,
  changes: readonly RepoChange[],
): Promise<void> {
  const staged: Array<string | null> = [];
  for (const [index, change] of changes.entries()) {
    await assertRealFolders(root, change.path);
    if ('delete' in change) {
      staged.push(null);
      continue;
    }
    const file = join(stagingDir, String(index));
    await writeFile(file, change.content);
    staged.push(file);
  }
  for (const [index, change] of changes.entries()) {
    const target = join(root, ...change.path.split('/'));
    const source = staged[index];
    if (source === null || source === undefined) {
      await rm(target, { recursive: true, force: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(source, target);
  }
}
