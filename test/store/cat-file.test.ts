import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectReader } from '../../src/store/cat-file.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

const sandbox = useGitSandbox();

describe('ObjectReader', () => {
  it('answers many concurrent reads in order, binary and missing files included', async () => {
    const binary = Buffer.from([0, 10, 13, 10, 255, 10]);
    const repo = await makeRepo(sandbox.base, {
      'a.txt': 'alpha\n',
      'b.txt': 'beta\nwith lines\n',
    });
    await writeFile(join(repo, 'bin.dat'), binary);
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', 'binary');
    const reader = new ObjectReader(repo);
    try {
      const reads = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          reader.read('HEAD', ['a.txt', 'b.txt', 'bin.dat', 'nope.txt'][i % 4] as string),
        ),
      );
      for (let i = 0; i < reads.length; i++) {
        const found = reads[i];
        if (i % 4 === 0) expect(found?.content.toString()).toBe('alpha\n');
        if (i % 4 === 1) expect(found?.content.toString()).toBe('beta\nwith lines\n');
        if (i % 4 === 2) expect(found?.content.equals(binary)).toBe(true);
        if (i % 4 === 3) expect(found).toBeNull();
      }
      expect((await reader.read('HEAD', ''))?.type).toBe('tree');
    } finally {
      reader.close();
    }
  });

  it('answers object ids and types without content in headersOnly mode', async () => {
    const repo = await makeRepo(sandbox.base, { 'a.txt': 'alpha\n' });
    const names = new ObjectReader(repo, { headersOnly: true });
    const objects = new ObjectReader(repo);
    try {
      const [head, blob, missing] = await Promise.all([
        names.readSpec('HEAD^{commit}'),
        names.read('HEAD', 'a.txt'),
        names.read('HEAD', 'nope.txt'),
      ]);
      expect(head).toEqual({
        oid: git(repo, 'rev-parse', 'HEAD'),
        type: 'commit',
        content: Buffer.alloc(0),
      });
      expect(blob?.oid).toBe(git(repo, 'rev-parse', 'HEAD:a.txt'));
      expect(blob?.content.length).toBe(0);
      expect(missing).toBeNull();
      expect((await objects.readSpec(blob?.oid ?? ''))?.content.toString()).toBe('alpha\n');
    } finally {
      names.close();
      objects.close();
    }
  });

  it('sees HEAD move between reads', async () => {
    const repo = await makeRepo(sandbox.base, { 'a.txt': 'one\n' });
    const reader = new ObjectReader(repo);
    try {
      expect((await reader.read('HEAD', 'a.txt'))?.content.toString()).toBe('one\n');
      await writeFile(join(repo, 'a.txt'), 'two\n');
      git(repo, 'commit', '--quiet', '-am', 'two');
      expect((await reader.read('HEAD', 'a.txt'))?.content.toString()).toBe('two\n');
    } finally {
      reader.close();
    }
  });

  it('refuses a path with a line break instead of corrupting the protocol', async () => {
    const repo = await makeRepo(sandbox.base);
    const reader = new ObjectReader(repo);
    await expect(reader.read('HEAD', 'a\nb')).rejects.toThrow('line breaks are refused');
    reader.close();
  });

  it('fails pending reads clearly when git cannot run there', async () => {
    const reader = new ObjectReader(join(sandbox.base, 'does-not-exist'));
    await expect(reader.read('HEAD', 'a.txt')).rejects.toThrow(/git cat-file --batch/);
  });
});
