import { copyFile, lstat, mkdir, readdir, readlink, realpath, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvalidFileError, PathEscapeError } from '../../errors.js';

const MAX_SYMLINK_HOPS = 40;

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The real path `target` refers to, following every symlink in the part that exists (dangling
 * links included, so a write through them is judged by where it would land) and keeping the
 * missing tail as written.
 */
async function realpathAllowMissing(target: string, hops = 0): Promise<string> {
  if (hops > MAX_SYMLINK_HOPS) throw new PathEscapeError(`${target}: too many levels of symlinks`);
  try {
    return await realpath(target);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ELOOP') throw new PathEscapeError(`${target}: symlink loop`);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  const parent = dirname(target);
  if (parent === target) return target;
  const realParent = await realpathAllowMissing(parent, hops);
  const own = join(realParent, basename(target));
  let isLink = false;
  try {
    isLink = (await lstat(own)).isSymbolicLink();
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  if (!isLink) return own;
  const linkTarget = await readlink(own);
  return realpathAllowMissing(resolve(realParent, linkTarget), hops + 1);
}

/**
 * The absolute real path of `relPath` (relative to `root`, or absolute) when it resolves inside
 * `root`, symlinks included; the target itself need not exist yet. Throws PathEscapeError naming
 * the path otherwise.
 */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  if (relPath.includes('\0')) throw new PathEscapeError(`path "${relPath}" contains a NUL byte`);
  const realRoot = await realpath(root);
  const resolved = await realpathAllowMissing(resolve(realRoot, relPath));
  if (!isInside(realRoot, resolved)) {
    throw new PathEscapeError(`path "${relPath}" resolves outside ${root} (to ${resolved})`);
  }
  return resolved;
}

async function linkTarget(link: string, name: string): Promise<string> {
  try {
    return await realpathAllowMissing(resolve(dirname(link), await readlink(link)));
  } catch (error) {
    if (!(error instanceof PathEscapeError)) throw error;
    throw new PathEscapeError(`probe file ${name}: ${error.message}`, { cause: error });
  }
}

async function copyTree(srcRoot: string, srcDir: string, destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  for (const entry of await readdir(srcDir, { withFileTypes: true })) {
    const from = join(srcDir, entry.name);
    const to = join(destDir, entry.name);
    const name = relative(srcRoot, from);
    if (entry.isSymbolicLink()) {
      const target = await linkTarget(from, name);
      if (!isInside(srcRoot, target)) {
        throw new PathEscapeError(
          `probe file ${name} is a symlink to ${target}, outside ${srcRoot}`,
        );
      }
      await symlink(relative(srcDir, target) || '.', to);
    } else if (entry.isDirectory()) {
      await copyTree(srcRoot, from, to);
    } else if (entry.isFile()) {
      await copyFile(from, to);
    } else {
      throw new InvalidFileError(from, 'not a regular file, directory or symlink');
    }
  }
}

/**
 * Copies a probe workspace into `dest` (created if missing) for one trial. Files keep their mode.
 * A symlink that stays inside `src` is recreated as a relative symlink to the same place in the
 * copy; a symlink that points outside `src` (directly or through a chain) is refused with
 * PathEscapeError naming the probe file, before anything is read through it.
 */
export async function copyWorkspace(src: string, dest: string): Promise<void> {
  if (!isAbsolute(src) || !isAbsolute(dest)) {
    throw new Error(`copyWorkspace needs absolute paths, got ${src} -> ${dest}`);
  }
  const realSrc = await realpath(src);
  await copyTree(realSrc, realSrc, dest);
}
