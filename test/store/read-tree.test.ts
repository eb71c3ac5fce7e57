import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidFileError, PathEscapeError } from '../../src/errors.js';
import { readTree } from '../../src/store/read-tree.js';

let base = '';
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'so-tree-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function put(path: string, content: string): Promise<void> {
  await mkdir(join(base, path, '..'), { recursive: true });
  await writeFile(join(base, path), content);
}

describe('readTree', () => {
  it('reads every file under a folder into sorted changes at a prefix, skipping .git', async () => {
    await put('skill/SKILL.md', '---\nname: x\n---\n');
    await put('skill/references/b.md', 'b');
    await put('skill/references/a.md', 'a');
    await put('skill/.git/config', 'never');
    await put('skill/.gitignore', 'kept');
    const changes = await readTree(join(base, 'skill'), 'vendored-skill');
    expect(changes.map((c) => c.path)).toEqual([
      'vendored-skill/.gitignore',
      'vendored-skill/SKILL.md',
      'vendored-skill/references/a.md',
      'vendored-skill/references/b.md',
    ]);
    const first = changes[1];
    expect(first !== undefined && 'content' in first && first.content.toString()).toBe(
      '---\nname: x\n---\n',
    );
    expect((await readTree(join(base, 'skill'))).map((c) => c.path)[0]).toBe('.gitignore');
  });

  it('follows symlinks that stay inside the folder', async () => {
    await put('skill/real/x.md', 'x');
    await symlink('real', join(base, 'skill/alias'));
    await symlink('real/x.md', join(base, 'skill/y.md'));
    const changes = await readTree(join(base, 'skill'));
    expect(changes.map((c) => c.path)).toEqual(['alias/x.md', 'real/x.md', 'y.md']);
  });

  it('refuses symlinks that point outside the folder', async () => {
    await put('secret.txt', 'secret');
    await put('skill/SKILL.md', 's');
    await symlink(join(base, 'secret.txt'), join(base, 'skill/leak.md'));
    await expect(readTree(join(base, 'skill'))).rejects.toBeInstanceOf(PathEscapeError);
  });

  it('refuses broken links and loops', async () => {
    await put('skill/SKILL.md', 's');
    await symlink('nowhere', join(base, 'skill/broken'));
    await expect(readTree(join(base, 'skill'))).rejects.toBeInstanceOf(InvalidFileError);
    await rm(join(base, 'skill/broken'));
    await symlink('.', join(base, 'skill/loop'));
    await expect(readTree(join(base, 'skill'))).rejects.toThrow(/symlink loop/);
  });

  it('refuses a prefix that leaves the run dir', async () => {
    await put('skill/SKILL.md', 's');
    await expect(readTree(join(base, 'skill'), '../x')).rejects.toBeInstanceOf(PathEscapeError);
  });
});
