import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InvalidFileError, PathEscapeError } from '../errors.js';

/**
 * The real path of the folder `path` names under `root`, every symlink on the way resolved
 * (a committed link in a parent folder, `..` through a link, the folder itself a link). A folder
 * whose real path leaves the real path of `root` is a PathEscapeError naming `path` and where it
 * really is; comparing unresolved paths would let `skills/shared -> /elsewhere` through.
 * `path` may be absolute or relative to `root`. Returns the real path and, `/`-separated, its
 * path relative to the real root (`.` for the root itself).
 */
export async function confinedFolder(
  root: string,
  path: string,
): Promise<{ abs: string; path: string }> {
  const realRoot = await realpath(root);
  const real = await realpath(resolve(root, path)).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
    throw new InvalidFileError(path, 'does not exist (or is a broken or looping symlink)');
  });
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new PathEscapeError(
      `${path} resolves to ${real}, outside the repository at ${realRoot}; only files inside the repository can be vendored (a symlink may not lead out of it)`,
    );
  }
  return { abs: real, path: rel.split(sep).join('/') || '.' };
}
