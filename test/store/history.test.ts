import { execFileSync, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommitParents, parseTree } from '../../src/store/git-objects.js';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

/**
 * The store answers history questions from the cat-file pipes and its own commits; every
 * answer must be the one git gives (`git log -1 -- <paths>`, `merge-base --is-ancestor`).
 */

const sandbox = useGitSandbox();
const open: LocalRunStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

async function openRun(repoDir: string): Promise<LocalRunStore> {
  const store = await openLocalRun({ repoDir, slug: 'demo' });
  open.push(store);
  return store;
}

const PATH_SETS = [
  ['a.md'],
  ['tests'],
  ['tests/p1'],
  ['tests/p1/spec.yaml', 'b.md'],
  ['missing.md'],
  ['b.md', 'missing/deep.md'],
  [''],
];

function gitLastTouch(store: LocalRunStore, paths: string[]): string | null {
  const specs = paths.map((p) => (p === '' ? store.runDir : `${store.runDir}/${p}`));
  const out = git(
    store.worktreeDir,
    '--literal-pathspecs',
    'log',
    '-1',
    '--format=%H',
    'HEAD',
    '--',
    ...specs,
  );
  return out === '' ? null : out;
}

function gitIsAncestor(store: LocalRunStore, a: string, d: string): boolean {
  const result = spawnSync('git', ['merge-base', '--is-ancestor', a, d], {
    cwd: store.worktreeDir,
  });
  if (result.status !== 0 && result.status !== 1)
    throw new Error(`merge-base failed: ${result.stderr}`);
  return result.status === 0;
}

async function expectSameAnswersAsGit(store: LocalRunStore, commits: string[]): Promise<void> {
  for (const paths of PATH_SETS) {
    expect(await store.lastCommitTouching(paths), paths.join(',')).toBe(gitLastTouch(store, paths));
  }
  for (const a of commits) {
    for (const d of commits) {
      expect(await store.isAncestor(a, d), `${a} ≤ ${d}`).toBe(gitIsAncestor(store, a, d));
    }
  }
}

describe('the store history answers as git does', () => {
  it('over its own commits, a human commit, a failed commit and a reopened store', async () => {
    const repo = await makeRepo(sandbox.base);
    const start = git(repo, 'rev-parse', 'HEAD');
    let store = await openRun(repo);
    const commits = [start];
    commits.push(await store.commit('one', [{ path: 'a.md', content: 'a1' }]));
    commits.push(
      await store.commit('two', [
        { path: 'tests/p1/spec.yaml', content: 's' },
        { path: 'tests/p2/spec.yaml', content: 's' },
      ]),
    );
    commits.push(await store.commit('three', [{ path: 'b.md', content: 'b' }]));
    await expectSameAnswersAsGit(store, commits);

    // A human commit in the worktree is not one of the store's: git is asked past it.
    await writeFile(store.absolutePath('a.md'), 'a by hand');
    git(store.worktreeDir, 'commit', '--quiet', '-am', 'human edit');
    commits.push(git(store.worktreeDir, 'rev-parse', 'HEAD'));
    commits.push(await store.commit('four', [{ path: 'tests/p2', delete: true }]));
    await expect(store.commit('same', [{ path: 'b.md', content: 'b' }])).rejects.toThrow(
      /nothing to commit/,
    );
    const checkpoint = await store.checkpoint('by hand', ['tests']);
    expect(checkpoint).toBeNull();
    await writeFile(store.absolutePath('tests/p1/spec.yaml'), 'edited');
    commits.push((await store.checkpoint('by hand', ['tests'])) as string);
    await expectSameAnswersAsGit(store, commits);

    await store.close();
    store = await openRun(repo);
    await expectSameAnswersAsGit(store, commits);
    commits.push(await store.commit('five', [{ path: 'a.md', content: 'a5' }]));
    await expectSameAnswersAsGit(store, commits);
  });

  it('lists a folder from its tree objects, nested, sorted and at earlier commits', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const first = await store.commit('one', [
      { path: 'tests/b/z.md', content: 'z' },
      { path: 'tests/b/a/deep.md', content: 'd' },
      { path: 'tests/a.md', content: 'a' },
      { path: 'top.md', content: 't' },
    ]);
    await store.commit('two', [{ path: 'tests/b', delete: true }]);
    expect(await store.list('tests')).toEqual(['tests/a.md']);
    expect(await store.list('tests', first)).toEqual([
      'tests/a.md',
      'tests/b/a/deep.md',
      'tests/b/z.md',
    ]);
    expect(await store.list('')).toEqual(['tests/a.md', 'top.md']);
    expect(await store.list('top.md')).toEqual([]);
    expect(await store.list('missing')).toEqual([]);
  });
});

function catFileBytes(dir: string, type: string, rev: string): Buffer {
  return execFileSync('git', ['cat-file', type, rev], { cwd: dir });
}

describe('git object parsers', () => {
  it('reads tree entries and commit parents as git writes them, SHA-256 included', async () => {
    for (const format of ['sha1', 'sha256']) {
      const dir = join(sandbox.base, `objects-${format}`);
      git(sandbox.base, 'init', '--quiet', `--object-format=${format}`, dir);
      await writeFile(join(dir, 'a b.md'), 'x');
      git(dir, 'add', '-A');
      git(dir, 'commit', '--quiet', '-m', 'one');
      git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'two');
      const tree = git(dir, 'rev-parse', 'HEAD^{tree}');
      const bytes = catFileBytes(dir, 'tree', tree);
      expect(parseTree(bytes, tree)).toEqual([
        { mode: '100644', name: 'a b.md', oid: git(dir, 'rev-parse', 'HEAD:a b.md') },
      ]);
      expect(parseCommitParents(catFileBytes(dir, 'commit', 'HEAD'))).toEqual([
        git(dir, 'rev-parse', 'HEAD^'),
      ]);
      expect(parseCommitParents(catFileBytes(dir, 'commit', 'HEAD^'))).toEqual([]);
    }
  });

  it('refuses a truncated tree', () => {
    const oid = 'ab'.repeat(20);
    const entry = Buffer.concat([Buffer.from('100644 a\0'), Buffer.from(oid, 'hex')]);
    expect(parseTree(entry, oid)).toHaveLength(1);
    expect(() => parseTree(entry.subarray(0, entry.length - 1), oid)).toThrow(/malformed/);
  });
});
