import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyWorkspace, resolveInside } from '../../../src/bench/sandbox/paths.js';
import { PathEscapeError } from '../../../src/errors.js';

let base: string;
let root: string;
let outside: string;

beforeEach(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'so-paths-')));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'sub', 'file.txt'), 'inside');
  await writeFile(join(outside, 'secret.txt'), 'outside');
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('resolveInside', () => {
  it('resolves existing and not-yet-existing paths inside the root', async () => {
    expect(await resolveInside(root, 'sub/file.txt')).toBe(join(root, 'sub', 'file.txt'));
    expect(await resolveInside(root, 'new/dir/out.txt')).toBe(join(root, 'new', 'dir', 'out.txt'));
    expect(await resolveInside(root, './sub/../sub/x')).toBe(join(root, 'sub', 'x'));
    expect(await resolveInside(root, '')).toBe(root);
    expect(await resolveInside(root, join(root, 'sub'))).toBe(join(root, 'sub'));
  });

  it('refuses ../ paths and absolute paths outside, naming the path', async () => {
    await expect(resolveInside(root, '../x')).rejects.toThrow(PathEscapeError);
    await expect(resolveInside(root, '../x')).rejects.toThrow('"../x"');
    await expect(resolveInside(root, 'sub/../../outside/secret.txt')).rejects.toThrow(
      PathEscapeError,
    );
    await expect(resolveInside(root, '/etc/passwd')).rejects.toThrow('"/etc/passwd"');
    await expect(resolveInside(root, `${root}-sibling/x`)).rejects.toThrow(PathEscapeError);
  });

  it('refuses a symlink to /etc, through it and at it', async () => {
    await symlink('/etc', join(root, 'etc'));
    await expect(resolveInside(root, 'etc')).rejects.toThrow('"etc"');
    await expect(resolveInside(root, 'etc/passwd')).rejects.toThrow(PathEscapeError);
    await expect(resolveInside(root, 'etc/not-there-yet')).rejects.toThrow(PathEscapeError);
  });

  it('refuses a symlink chain that ends outside, and a dangling link that would write outside', async () => {
    await symlink('b', join(root, 'a'));
    await symlink('c', join(root, 'b'));
    await symlink(outside, join(root, 'c'));
    await expect(resolveInside(root, 'a/secret.txt')).rejects.toThrow('"a/secret.txt"');
    await symlink(join(outside, 'created-later.txt'), join(root, 'dangling'));
    await expect(resolveInside(root, 'dangling')).rejects.toThrow(PathEscapeError);
    await symlink('../..', join(root, 'sub', 'up'));
    await expect(resolveInside(root, 'sub/up/outside/secret.txt')).rejects.toThrow(PathEscapeError);
  });

  it('follows symlinks that stay inside and reports their real target', async () => {
    await symlink('sub', join(root, 'alias'));
    await symlink('sub/later.txt', join(root, 'pending'));
    expect(await resolveInside(root, 'alias/file.txt')).toBe(join(root, 'sub', 'file.txt'));
    expect(await resolveInside(root, 'pending')).toBe(join(root, 'sub', 'later.txt'));
  });

  it('refuses symlink loops', async () => {
    await symlink('loop2', join(root, 'loop1'));
    await symlink('loop1', join(root, 'loop2'));
    await expect(resolveInside(root, 'loop1/x')).rejects.toThrow(PathEscapeError);
  });

  it('never returns a path outside the root', async () => {
    await symlink('..', join(root, 'sub', 'up'));
    await symlink('sub', join(root, 'alias'));
    const segment = fc.constantFrom('sub', 'up', 'alias', '..', '.', 'x', 'file.txt', 'outside');
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 6 }), async (segments) => {
        const rel = segments.join('/');
        try {
          const resolved = await resolveInside(root, rel);
          expect(resolved === root || resolved.startsWith(root + sep)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(PathEscapeError);
        }
      }),
    );
  });
});

describe('copyWorkspace', () => {
  it('copies files and folders, keeping modes, and keeps in-tree symlinks as relative links', async () => {
    await chmod(join(root, 'sub', 'file.txt'), 0o755);
    await symlink('sub/file.txt', join(root, 'relative-link'));
    await symlink(join(root, 'sub'), join(root, 'absolute-link'));
    const dest = join(base, 'copy');
    await copyWorkspace(root, dest);

    expect(await readFile(join(dest, 'sub', 'file.txt'), 'utf8')).toBe('inside');
    expect((await stat(join(dest, 'sub', 'file.txt'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(dest, 'relative-link'))).toBe('sub/file.txt');
    expect(await readlink(join(dest, 'absolute-link'))).toBe('sub');
    // The copy's links point into the copy, not back into the probe.
    await writeFile(join(root, 'sub', 'file.txt'), 'changed in the probe');
    expect(await readFile(join(dest, 'absolute-link', 'file.txt'), 'utf8')).toBe('inside');
  });

  it('refuses a symlink pointing outside, naming the probe file', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'sub', 'leak'));
    await expect(copyWorkspace(root, join(base, 'copy'))).rejects.toThrow(
      new RegExp(`probe file sub${sep}leak is a symlink to .*outside`),
    );
  });

  it('refuses an escape through a chain of in-tree links', async () => {
    await symlink('hop', join(root, 'start'));
    await symlink('../outside', join(root, 'hop'));
    await expect(copyWorkspace(root, join(base, 'copy'))).rejects.toThrow(PathEscapeError);
  });
});
