import { SkillOptimizerError } from '../errors.js';

/**
 * Write scope of a test writer (docs/chain.md): every file it returns must land inside its own
 * probe folder's `workspace/`, `smoke/good/` or `smoke/bad/`. Paths are checked as written, never
 * "fixed up": a path that would need normalising is refused.
 */

export const WRITER_AREAS = ['workspace', 'smoke/good', 'smoke/bad'] as const;
export type WriterArea = (typeof WRITER_AREAS)[number];

/** A writer returned a path outside its scope; the step fails and nothing is written. */
export class WriteScopeError extends SkillOptimizerError {
  constructor(
    readonly probe: string,
    readonly path: string,
    why: string,
  ) {
    super(
      `the test writer of probe '${probe}' returned '${path}' (${why}); a writer may only write relative paths inside its probe folder's ${WRITER_AREAS.map((a) => `${a}/`).join(', ')}. Nothing was written.`,
      { retry: 'skill-optimizer rerun write-tests' },
    );
  }
}

// C0/C1 controls (NUL included) have no business in a file name.
const CONTROL = /\p{Cc}/u;

/** Why `path` may not be written, or null when it may. */
export function scopeViolation(path: string): string | null {
  if (path.trim() === '') return 'an empty path';
  if (CONTROL.test(path)) return 'a control character in the path';
  if (path.includes('\\')) return 'a backslash; use / between folders';
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return 'an absolute path';
  for (const segment of path.split('/')) {
    if (segment === '') return 'an empty folder or file name';
    if (segment === '..') return "a '..' segment leaving the folder";
    if (segment === '.') return "a '.' segment";
    if (segment.trim() !== segment) return 'a name starting or ending with a space';
    if (segment.toLowerCase() === '.git') return 'a .git entry';
  }
  return null;
}

/**
 * Checks every path of one area of one probe; throws WriteScopeError on the first violation,
 * a duplicate included (case-insensitive, so a checkout on a case-insensitive disk cannot clash)
 * and a name used both as a file and as a folder.
 */
export function assertWriteScope(
  probe: string,
  area: WriterArea,
  files: ReadonlyArray<{ path: string }>,
): void {
  const seen = new Set<string>();
  for (const { path } of files) {
    const shown = `${area}/${path}`;
    const why = scopeViolation(path);
    if (why !== null) throw new WriteScopeError(probe, shown, why);
    const key = path.toLowerCase();
    if (seen.has(key)) throw new WriteScopeError(probe, shown, 'listed twice');
    seen.add(key);
  }
  for (const { path } of files) {
    const folder = `${path.toLowerCase()}/`;
    if ([...seen].some((other) => other.startsWith(folder))) {
      throw new WriteScopeError(probe, `${area}/${path}`, 'both a file and a folder');
    }
  }
}
