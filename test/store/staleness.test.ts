import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { type CommitHistory, isStaleByOrder } from '../../src/store/staleness.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

const sandbox = useGitSandbox();
const open: LocalRunStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  delete process.env.GIT_AUTHOR_DATE;
  delete process.env.GIT_COMMITTER_DATE;
});

/** Every later commit gets an OLDER timestamp, so only commit order can give the right answers. */
let clock = 2_000_000_000;
function nextCommitGoesBackInTime(): void {
  clock -= 3600;
  process.env.GIT_AUTHOR_DATE = `@${clock} +0000`;
  process.env.GIT_COMMITTER_DATE = `@${clock} +0000`;
}

async function openRun(): Promise<LocalRunStore> {
  const repo = await makeRepo(sandbox.base);
  const store = await openLocalRun({ repoDir: repo, slug: 'demo' });
  open.push(store);
  return store;
}

async function write(store: LocalRunStore, path: string, content: string): Promise<string> {
  nextCommitGoesBackInTime();
  return store.commit(`write ${path}`, [{ path, content }]);
}

describe('isStale on a local run (commit order, not timestamps)', () => {
  it('follows the order of output and input commits', async () => {
    const store = await openRun();
    await write(store, '01-functionality.md', 'f1');
    await write(store, 'tests/a/spec.yaml', 's1');
    const outputs = ['03-test-proposals.md'];
    const inputs = ['01-functionality.md', 'tests'];

    expect(await store.isStale(outputs, inputs)).toBe(true); // output missing
    await write(store, '03-test-proposals.md', 'p1');
    expect(await store.isStale(outputs, inputs)).toBe(false); // inputs changed before output
    await write(store, 'tests/a/spec.yaml', 's2');
    expect(await store.isStale(outputs, inputs)).toBe(true); // folder input changed after output
    await write(store, '03-test-proposals.md', 'p2');
    expect(await store.isStale(outputs, inputs)).toBe(false);
    await write(store, 'unrelated.md', 'u');
    expect(await store.isStale(outputs, inputs)).toBe(false);
    await write(store, '01-functionality.md', 'f2');
    expect(await store.isStale(outputs, inputs)).toBe(true);
  });

  it('is not stale when the inputs were never committed', async () => {
    const store = await openRun();
    await write(store, 'out.md', 'o');
    expect(await store.isStale(['out.md'], ['never.md'])).toBe(false);
    expect(await store.isStale(['out.md'], [])).toBe(false);
    expect(await store.isStale(['out.md', 'missing.md'], [])).toBe(true);
  });

  it('counts a human commit made in the worktree', async () => {
    const store = await openRun();
    await write(store, 'in.md', 'i');
    await write(store, 'out.md', 'o');
    expect(await store.isStale(['out.md'], ['in.md'])).toBe(false);
    nextCommitGoesBackInTime();
    await writeFile(store.absolutePath('in.md'), 'edited by a human');
    git(store.worktreeDir, 'commit', '--quiet', '-am', 'human edit');
    expect(await store.isStale(['out.md'], ['in.md'])).toBe(true);
  });

  it('treats a commit touching both input and output as not stale', async () => {
    const store = await openRun();
    nextCommitGoesBackInTime();
    await store.commit('both', [
      { path: 'in.md', content: 'i' },
      { path: 'out.md', content: 'o' },
    ]);
    expect(await store.isStale(['out.md'], ['in.md'])).toBe(false);
  });

  it('finds the newest commit touching any of several paths, and none for no paths', async () => {
    const store = await openRun();
    const a = await write(store, 'a.md', 'a');
    const b = await write(store, 'b.md', 'b');
    expect(await store.lastCommitTouching(['a.md'])).toBe(a);
    expect(await store.lastCommitTouching(['a.md', 'b.md'])).toBe(b);
    expect(await store.lastCommitTouching(['zzz.md'])).toBeNull();
    expect(await store.lastCommitTouching([])).toBeNull();
    expect(await store.isAncestor(a, b)).toBe(true);
    expect(await store.isAncestor(b, a)).toBe(false);
    expect(await store.isAncestor(a, a)).toBe(true);
  });
});

describe('isStaleByOrder', () => {
  // A linear history c0 < c1 < c2 ...; `touched` says which commit last touched a path.
  function history(touched: Record<string, number>, present: string[]): CommitHistory {
    return {
      exists: async (path) => present.includes(path),
      lastCommitTouching: async (paths) => {
        const hits = paths.map((p) => touched[p]).filter((n): n is number => n !== undefined);
        return hits.length === 0 ? null : `c${Math.max(...hits)}`;
      },
      isAncestor: async (a, d) => Number(a.slice(1)) <= Number(d.slice(1)),
    };
  }

  it('decides from order alone', async () => {
    const h = history({ out: 3, in1: 2, in2: 5 }, ['out', 'in1', 'in2']);
    expect(await isStaleByOrder(h, ['out'], ['in1'])).toBe(false);
    expect(await isStaleByOrder(h, ['out'], ['in1', 'in2'])).toBe(true);
    expect(await isStaleByOrder(h, ['out', 'gone'], ['in1'])).toBe(true);
    expect(await isStaleByOrder(h, [], ['in1'])).toBe(true);
    expect(await isStaleByOrder(h, ['out'], ['never'])).toBe(false);
  });
});
