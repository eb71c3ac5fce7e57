import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { InvalidFileError, PathEscapeError } from '../errors.js';
import type { FileChange } from './port.js';
import { normalizeRelativePath } from './run-path.js';

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/**
 * Reads every file under `absDir` into write changes at `<prefix>/<relative path>`, sorted by path.
 * `.git` entries are skipped; a symlink is followed only when it stays inside `absDir` (anything
 * else is a PathEscapeError); sockets, fifos and symlink loops are refused.
 */
export async function readTree(absDir: string, prefix = ''): Promise<FileChange[]> {
  const base = normalizeRelativePath(prefix, 'the run dir', { allowBase: true });
  const root = await realpath(absDir);
  const changes: FileChange[] = [];
  const walk = async (dir: string, rel: string, open: ReadonlySet<string>): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name === '.git') continue;
      const abs = join(dir, entry.name);
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let real = abs;
      if (entry.isSymbolicLink()) {
        real = await realpath(abs).catch((error: unknown) => {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ELOOP') throw error;
          throw new InvalidFileError(join(absDir, relPath), 'is a broken or looping symlink');
        });
        if (!isInside(root, real)) {
          throw new PathEscapeError(
            `${join(absDir, relPath)} is a symlink to ${real}, outside ${absDir}; copy the file in instead`,
          );
        }
      }
      const info = await stat(real);
      if (info.isDirectory()) {
        if (open.has(real)) throw new InvalidFileError(join(absDir, relPath), 'is a symlink loop');
        await walk(real, relPath, new Set([...open, real]));
      } else if (info.isFile()) {
        const path = base === '' ? relPath : `${base}/${relPath}`;
        changes.push({ path, content: await readFile(real) });
      } else {
        throw new InvalidFileError(join(absDir, relPath), 'is neither a file nor a folder');
      }
    }
  };
  await walk(root, '', new Set([root]));
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
