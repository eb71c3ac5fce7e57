import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotAGitRepoError } from '../../src/store/errors.js';
import { isPathDirty, repoRoot } from '../../src/store/repo.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

const sandbox = useGitSandbox();

describe('repoRoot', () => {
  it('finds the top of the work tree from a subfolder', async () => {
    const repo = await makeRepo(sandbox.base, { 'skills/a/SKILL.md': 'x' });
    expect(await repoRoot(join(repo, 'skills', 'a'))).toBe(
      git(repo, 'rev-parse', '--show-toplevel'),
    );
  });

  it('refuses folders outside a repository and missing folders', async () => {
    const plain = join(sandbox.base, 'not-a-repo');
    await mkdir(plain, { recursive: true });
    await expect(repoRoot(plain)).rejects.toThrow(/git init/);
    await expect(repoRoot(join(sandbox.base, 'missing'))).rejects.toBeInstanceOf(NotAGitRepoError);
  });
});

describe('isPathDirty', () => {
  it('sees modified, staged and untracked files under the path but not ignored ones', async () => {
    const repo = await makeRepo(sandbox.base, {
      '.gitignore': '*.log\n',
      'skills/a/SKILL.md': 'a',
      'skills/b/SKILL.md': 'b',
    });
    expect(await isPathDirty(repo, 'skills/a')).toBe(false);
    await writeFile(join(repo, 'skills/a/debug.log'), 'ignored');
    expect(await isPathDirty(repo, 'skills/a')).toBe(false);
    await writeFile(join(repo, 'skills/b/SKILL.md'), 'changed');
    expect(await isPathDirty(repo, 'skills/a')).toBe(false);
    expect(await isPathDirty(repo, 'skills/b')).toBe(true);
    await writeFile(join(repo, 'skills/a/new.md'), 'new');
    expect(await isPathDirty(repo, 'skills/a')).toBe(true);
    git(repo, 'add', 'skills/a/new.md');
    expect(await isPathDirty(repo, 'skills/a/new.md')).toBe(true);
    expect(await isPathDirty(repo, 'skills/a/SKILL.md')).toBe(false);
  });
});
