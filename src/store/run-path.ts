import { PathEscapeError } from '../errors.js';
import { InvalidRunNameError } from './errors.js';

const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A slug names a folder and a branch: letters, digits, `.`, `_`, `-`, no `..`. */
export function checkSlug(slug: string): string {
  if (!SLUG.test(slug) || slug.includes('..') || slug.endsWith('.lock') || slug.length > 100) {
    throw new InvalidRunNameError(
      `'${slug}' cannot name a run: use letters, digits, '.', '_' and '-' (e.g. the skill's kebab-case name)`,
    );
  }
  return slug;
}

/**
 * Normalises a '/'-separated path relative to `base` (e.g. the run dir) and refuses any path that
 * could leave it: absolute paths, `..`, backslashes, control characters, `.git` folders.
 * '' and '.' name `base` itself, which is refused unless `allowBase`.
 */
export function normalizeRelativePath(
  path: string,
  base: string,
  opts: { allowBase?: boolean } = {},
): string {
  const refuse = (why: string): never => {
    throw new PathEscapeError(`'${path}' is not a path inside ${base}: ${why}`);
  };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse.
  if (/[\u0000-\u001f\u007f]/.test(path)) refuse('it contains a control character');
  if (path.includes('\\')) refuse("use '/' to separate folders");
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) refuse('it is absolute');
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) refuse("it contains '..'");
  if (segments.some((segment) => segment.toLowerCase() === '.git'))
    refuse('it names a .git folder');
  const normalized = segments.join('/');
  if (normalized === '' && opts.allowBase !== true) refuse('it names the folder itself');
  return normalized;
}

/** `runDir` joined with a normalised run-dir relative path ('' gives `runDir`). */
export function inRunDir(runDir: string, relative: string): string {
  return relative === '' ? runDir : `${runDir}/${relative}`;
}
