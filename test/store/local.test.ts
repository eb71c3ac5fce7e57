import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PathEscapeError } from '../../src/errors.js';
import {
  CommitFailedError,
  DirtyRunDirError,
  EmptyRepositoryError,
  NotAGitRepoError,
  NothingToCommitError,
  WorktreeConflictError,
} from '../../src/store/errors.js';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { recoveredRef } from '../../src/store/recover.js';
import { git, makeRepo, useGitSandbox } from './git-fixture.js';

const sandbox = useGitSandbox();
const open: LocalRunStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

async function openRun(repoDir: string, extra: Partial<Parameters<typeof openLocalRun>[0]> = {}) {
  const store = await openLocalRun({ repoDir, slug: 'keep-a-changelog', ...extra });
  open.push(store);
  return store;
}

function commitCount(cwd: string, rev = 'HEAD'): number {
  return Number(git(cwd, 'rev-list', '--count', rev));
}

describe('openLocalRun', () => {
  it('creates the work branch in its own worktree without touching the user checkout', async () => {
    const repo = await makeRepo(sandbox.base, {
      'README.md': '# demo\n',
      'skills/a/SKILL.md': 'x\n',
    });
    git(repo, 'switch', '--quiet', '-c', 'feature');
    await writeFile(join(repo, 'README.md'), '# edited by the user, not committed\n');
    const userHead = git(repo, 'rev-parse', 'HEAD');

    const store = await openRun(repo);
    await store.commit('skill-optimizer(keep-a-changelog): 01 functionality — ok', [
      { path: 'intent.md', content: 'optimise it\n' },
    ]);

    expect(store.branch).toBe('skill-optimizer/keep-a-changelog');
    expect(store.runDir).toBe('.skill-optimizer/keep-a-changelog');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(userHead);
    expect(git(repo, 'branch', '--show-current')).toBe('feature');
    expect(await readFile(join(repo, 'README.md'), 'utf8')).toBe(
      '# edited by the user, not committed\n',
    );
    expect(git(repo, 'status', '--porcelain')).toBe('M README.md');
    expect(existsSync(join(repo, '.skill-optimizer'))).toBe(false);
    // The branch starts at the user's HEAD and carries exactly one more commit.
    expect(git(repo, 'rev-parse', 'skill-optimizer/keep-a-changelog^')).toBe(userHead);
    expect(git(store.worktreeDir, 'branch', '--show-current')).toBe(store.branch);
  });

  it('reopens the same branch and worktree with its history', async () => {
    const repo = await makeRepo(sandbox.base);
    const first = await openRun(repo);
    const sha = await first.commit('one', [{ path: 'a.md', content: 'a' }]);
    await first.close();
    const again = await openRun(repo);
    expect(await again.head()).toBe(sha);
    expect(again.worktreeDir).toBe(first.worktreeDir);
    expect(await again.read('a.md')).toBe('a');
  });

  it('refuses a folder outside any git repository, naming it and suggesting git init', async () => {
    const dir = join(sandbox.base, 'plain');
    await mkdir(dir, { recursive: true });
    const error = await openLocalRun({ repoDir: dir, slug: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotAGitRepoError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain('git init');
  });

  it('refuses a repository without commits', async () => {
    const repo = await makeRepo(sandbox.base, {});
    const error = await openLocalRun({ repoDir: repo, slug: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyRepositoryError);
    expect((error as Error).message).toContain('no commits');
  });

  it('refuses when the user has the work branch checked out', async () => {
    const repo = await makeRepo(sandbox.base);
    git(repo, 'switch', '--quiet', '-c', 'skill-optimizer/keep-a-changelog');
    const error = await openRun(repo).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorktreeConflictError);
    expect((error as Error).message).toContain('is checked out at');
    // The refused open released its lock: after switching away, it opens.
    git(repo, 'switch', '--quiet', 'main');
    await expect(openRun(repo)).resolves.toBeDefined();
  });

  it('refuses a slug that could leave the run root', async () => {
    const repo = await makeRepo(sandbox.base);
    await expect(openLocalRun({ repoDir: repo, slug: '../x' })).rejects.toThrow(
      /cannot name a run/,
    );
  });
});

describe('LocalRunStore commits and reads', () => {
  it('writes the files as one commit with the exact message and the bot identity', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const before = commitCount(repo, store.branch);
    const message =
      'skill-optimizer(keep-a-changelog): 03 design-tests — 4 functionalities, 9 probes';
    const sha = await store.commit(message, [
      { path: '03-test-proposals.md', content: '# proposals\n' },
      { path: 'tests/dates/spec.yaml', content: 'picked: false\n' },
      { path: 'tests/dates/p1/workspace/CHANGELOG.md', content: Buffer.from([0, 1, 2, 255]) },
    ]);

    expect(sha).toBe(git(repo, 'rev-parse', store.branch));
    expect(commitCount(repo, store.branch)).toBe(before + 1);
    expect(git(repo, 'log', '-1', '--format=%B', store.branch)).toBe(message);
    expect(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', store.branch)).toBe(
      'Skill Optimizer <skill-optimizer@users.noreply.github.com>|Skill Optimizer <skill-optimizer@users.noreply.github.com>',
    );
    expect(git(repo, 'show', '--name-only', '--format=', store.branch).split('\n')).toEqual([
      '.skill-optimizer/keep-a-changelog/03-test-proposals.md',
      '.skill-optimizer/keep-a-changelog/tests/dates/p1/workspace/CHANGELOG.md',
      '.skill-optimizer/keep-a-changelog/tests/dates/spec.yaml',
    ]);
    expect(await store.read('03-test-proposals.md')).toBe('# proposals\n');
    expect(await store.readBytes('tests/dates/p1/workspace/CHANGELOG.md')).toEqual(
      Buffer.from([0, 1, 2, 255]),
    );
    expect(await store.read('missing.md')).toBeNull();
    expect(await store.read('tests')).toBeNull();
    expect(await store.list('tests')).toEqual([
      'tests/dates/p1/workspace/CHANGELOG.md',
      'tests/dates/spec.yaml',
    ]);
    expect(await store.list('')).toEqual([
      '03-test-proposals.md',
      'tests/dates/p1/workspace/CHANGELOG.md',
      'tests/dates/spec.yaml',
    ]);
    expect(await store.list('nowhere')).toEqual([]);
    expect(await store.exists('tests/dates')).toBe(true);
    expect(await store.exists('tests/dates/spec.yaml')).toBe(true);
    expect(await store.exists('tests/other')).toBe(false);
    expect(await readFile(store.absolutePath('tests/dates/spec.yaml'), 'utf8')).toBe(
      'picked: false\n',
    );
    expect(await readdir(join(repo, '.git', 'skill-optimizer', 'staging'))).toEqual([]);
  });

  it('uses a given author', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo, { author: { name: 'Bot', email: 'bot@example.com' } });
    await store.commit('m', [{ path: 'a.md', content: 'a' }]);
    expect(git(repo, 'log', '-1', '--format=%an <%ae>', store.branch)).toBe(
      'Bot <bot@example.com>',
    );
  });

  it('deletes a whole folder and commits files the repository ignores', async () => {
    const repo = await makeRepo(sandbox.base, { '.gitignore': '*.log\n' });
    const store = await openRun(repo);
    await store.commit('add', [
      { path: 'tests/a/spec.yaml', content: 'a' },
      { path: 'tests/b/spec.yaml', content: 'b' },
      { path: '06-bench-results/t1/run.log', content: 'trial\n' },
      { path: 'keep.md', content: 'k' },
    ]);
    expect(await store.read('06-bench-results/t1/run.log')).toBe('trial\n');
    await store.commit('drop tests', [{ path: 'tests', delete: true }]);
    expect(await store.list('tests')).toEqual([]);
    expect(await store.exists('tests')).toBe(false);
    expect(existsSync(store.absolutePath('tests'))).toBe(false);
    expect(await store.list('')).toEqual(['06-bench-results/t1/run.log', 'keep.md']);
  });

  it('applies changes in order, so a folder can be replaced', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    await store.commit('v1', [
      { path: 'improved-skill/SKILL.md', content: 'v1' },
      { path: 'improved-skill/old.md', content: 'old' },
    ]);
    await store.commit('v2', [
      { path: 'improved-skill', delete: true },
      { path: 'improved-skill/SKILL.md', content: 'v2' },
    ]);
    expect(await store.list('improved-skill')).toEqual(['improved-skill/SKILL.md']);
    expect(await store.read('improved-skill/SKILL.md')).toBe('v2');
  });

  it('refuses a change set that changes nothing, unless allowEmpty', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const sha = await store.commit('one', [{ path: 'a.md', content: 'same' }]);
    await expect(store.commit('none', [])).rejects.toBeInstanceOf(NothingToCommitError);
    await expect(store.commit('same', [{ path: 'a.md', content: 'same' }])).rejects.toBeInstanceOf(
      NothingToCommitError,
    );
    expect(await store.head()).toBe(sha);
    expect(git(store.worktreeDir, 'status', '--porcelain')).toBe('');
    const empty = await store.commit('marker', [], { allowEmpty: true });
    expect(git(repo, 'rev-parse', `${empty}^`)).toBe(sha);
    expect(git(repo, 'log', '-1', '--format=%s', empty)).toBe('marker');
  });

  it('records an empty first commit and deletes of missing paths as empty commits', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const start = await store.head();
    await expect(
      store.commit('gone', [{ path: 'nothing-here', delete: true }]),
    ).rejects.toBeInstanceOf(NothingToCommitError);
    const marker = await store.commit('start', [], { allowEmpty: true });
    expect(git(repo, 'rev-parse', `${marker}^`)).toBe(start);
    expect(await store.checkpoint('nothing', ['tests', 'missing.md'])).toBeNull();
    expect(await store.head()).toBe(marker);
  });

  it('keeps a message with # lines and several paragraphs verbatim', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const message = 'skill-optimizer(x): 06 bench — 80% pass\n\n# not a comment\nbody line';
    const sha = await store.commit(message, [{ path: 'a.md', content: 'a' }]);
    expect(git(repo, 'log', '-1', '--format=%B', sha)).toBe(message);
  });
});

describe('LocalRunStore atomicity', () => {
  it('leaves HEAD and the work tree as they were when the commit fails after staging', async () => {
    const repo = await makeRepo(sandbox.base);
    let fail = false;
    const store = await openRun(repo, {
      beforeCommit: () => {
        if (fail) throw new Error('injected crash before commit');
      },
    });
    const sha = await store.commit('one', [
      { path: 'report.md', content: 'v1' },
      { path: 'tests/a.md', content: 'a' },
    ]);
    fail = true;
    await expect(
      store.commit('two', [
        { path: 'report.md', content: 'v2' },
        { path: 'new/file.md', content: 'n' },
        { path: 'tests', delete: true },
      ]),
    ).rejects.toThrow('injected crash before commit');

    expect(await store.head()).toBe(sha);
    expect(
      git(store.worktreeDir, 'status', '--porcelain', '--ignored', '--untracked-files=all'),
    ).toBe('');
    expect(await readFile(store.absolutePath('report.md'), 'utf8')).toBe('v1');
    expect(existsSync(store.absolutePath('new'))).toBe(false);
    expect(await readFile(store.absolutePath('tests/a.md'), 'utf8')).toBe('a');
    fail = false;
    await store.commit('two again', [{ path: 'report.md', content: 'v2' }]);
    expect(await store.read('report.md')).toBe('v2');
  });

  it('moves the branch back when the commit lands incomplete', async () => {
    const repo = await makeRepo(sandbox.base);
    let stray = false;
    const store: LocalRunStore = await openRun(repo, {
      beforeCommit: async () => {
        // A file appearing after staging is left out of the commit: the commit is not whole.
        if (stray) await writeFile(store.absolutePath('late.md'), 'late');
      },
    });
    const sha = await store.commit('one', [{ path: 'a.md', content: 'a' }]);
    stray = true;
    const error = await store
      .commit('two', [{ path: 'b.md', content: 'b' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitFailedError);
    expect((error as Error).message).toContain('late.md');
    expect(await store.head()).toBe(sha);
    expect(git(repo, 'rev-parse', store.branch)).toBe(sha);
    expect(git(store.worktreeDir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('undoes the files already written when applying a later change fails', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const sha = await store.commit('one', [{ path: 'a.md', content: 'a' }]);
    // 'a.md/b.md' needs a folder where a file is: fails after 'c.md' is written.
    await expect(
      store.commit('bad', [
        { path: 'c.md', content: 'c' },
        { path: 'a.md/b.md', content: 'b' },
      ]),
    ).rejects.toThrow();
    expect(await store.head()).toBe(sha);
    expect(existsSync(store.absolutePath('c.md'))).toBe(false);
    expect(git(store.worktreeDir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('refuses paths that leave the run dir, before touching anything', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const sha = await store.commit('one', [{ path: 'a.md', content: 'a' }]);
    for (const path of [
      '../escape.md',
      '/etc/passwd',
      'tests/../../x',
      '.git/config',
      'a\\b',
      '',
    ]) {
      await expect(
        store.commit('bad', [
          { path: 'ok.md', content: 'x' },
          { path, content: 'x' },
        ]),
      ).rejects.toBeInstanceOf(PathEscapeError);
    }
    await expect(store.commit('bad', [{ path: '..', delete: true }])).rejects.toBeInstanceOf(
      PathEscapeError,
    );
    await expect(store.read('../../README.md')).rejects.toBeInstanceOf(PathEscapeError);
    expect(() => store.absolutePath('../x')).toThrow(PathEscapeError);
    expect(await store.head()).toBe(sha);
    expect(existsSync(store.absolutePath('ok.md'))).toBe(false);
  });

  it('refuses to write through a committed symlink that leads out of the work tree', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    await store.commit('one', [{ path: 'a.md', content: 'a' }]);
    const outside = join(sandbox.base, 'outside');
    await mkdir(outside, { recursive: true });
    await symlink(outside, store.absolutePath('link'));
    git(store.worktreeDir, 'add', '-A');
    git(store.worktreeDir, 'commit', '--quiet', '-m', 'human adds a symlink');
    const head = await store.head();
    await expect(
      store.commit('bad', [{ path: 'link/pwned.md', content: 'x' }]),
    ).rejects.toBeInstanceOf(PathEscapeError);
    expect(existsSync(join(outside, 'pwned.md'))).toBe(false);
    expect(await store.head()).toBe(head);
  });

  it('refuses to commit over uncommitted changes in the run dir', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const sha = await store.commit('one', [{ path: 'a.md', content: 'a' }]);
    await writeFile(store.absolutePath('stray.md'), 'not committed');
    await expect(store.commit('two', [{ path: 'b.md', content: 'b' }])).rejects.toBeInstanceOf(
      DirtyRunDirError,
    );
    expect(await store.head()).toBe(sha);
    expect(await readFile(store.absolutePath('stray.md'), 'utf8')).toBe('not committed');
  });
});

describe('LocalRunStore recovery and human commits', () => {
  it('restores a work tree left dirty by a crashed process and keeps what it discarded', async () => {
    const repo = await makeRepo(sandbox.base);
    const first = await openRun(repo);
    const sha = await first.commit('one', [{ path: 'report.md', content: 'complete' }]);
    await writeFile(first.absolutePath('report.md'), 'half-written');
    await mkdir(first.absolutePath('tests/p1'), { recursive: true });
    await writeFile(first.absolutePath('tests/p1/probe.yaml'), 'junk');
    await first.close();

    const notes: string[] = [];
    const again = await openRun(repo, { onRecover: (message) => notes.push(message) });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('.skill-optimizer/keep-a-changelog/tests/p1/probe.yaml');
    expect(notes[0]).toContain(recoveredRef('keep-a-changelog'));
    expect(await again.head()).toBe(sha);
    expect(
      git(again.worktreeDir, 'status', '--porcelain', '--ignored', '--untracked-files=all'),
    ).toBe('');
    expect(await readFile(again.absolutePath('report.md'), 'utf8')).toBe('complete');
    const ref = recoveredRef('keep-a-changelog');
    expect(git(repo, 'show', `${ref}:.skill-optimizer/keep-a-changelog/report.md`)).toBe(
      'half-written',
    );
    expect(git(repo, 'show', `${ref}:.skill-optimizer/keep-a-changelog/tests/p1/probe.yaml`)).toBe(
      'junk',
    );
    expect(git(repo, 'rev-parse', `${ref}^`)).toBe(sha);
    expect(git(repo, 'rev-parse', again.branch)).toBe(sha);
  });

  it('does not report recovery when the work tree is clean', async () => {
    const repo = await makeRepo(sandbox.base);
    const first = await openRun(repo);
    await first.commit('one', [{ path: 'a.md', content: 'a' }]);
    await first.close();
    const notes: string[] = [];
    await openRun(repo, { onRecover: (message) => notes.push(message) });
    expect(notes).toEqual([]);
  });

  it('treats a human commit on the branch as the state', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    await store.commit('one', [{ path: 'tests/f/spec.yaml', content: 'picked: false\n' }]);
    await writeFile(store.absolutePath('tests/f/spec.yaml'), 'picked: true\n');
    git(store.worktreeDir, 'commit', '--quiet', '-am', 'pick f');
    const human = git(store.worktreeDir, 'rev-parse', 'HEAD');
    expect(await store.head()).toBe(human);
    expect(await store.read('tests/f/spec.yaml')).toBe('picked: true\n');
    expect(await store.lastCommitTouching(['tests'])).toBe(human);
    const next = await store.commit('two', [{ path: '04.md', content: 'x' }]);
    expect(git(repo, 'rev-parse', `${next}^`)).toBe(human);
  });

  it('checkpoints files changed on disk, and does nothing when they are committed', async () => {
    const repo = await makeRepo(sandbox.base, { '.gitignore': '*.log\n' });
    const store = await openRun(repo);
    const sha = await store.commit('one', [{ path: 'tests/f/spec.yaml', content: 'v1' }]);
    expect(await store.checkpoint('nothing to do')).toBeNull();
    await writeFile(store.absolutePath('tests/f/spec.yaml'), 'edited');
    await writeFile(store.absolutePath('tests/f/out.log'), 'log');
    await writeFile(store.absolutePath('other.md'), 'elsewhere');
    const checkpoint = await store.checkpoint('skill-optimizer(x): checkpoint before 03', [
      'tests',
    ]);
    expect(checkpoint).not.toBeNull();
    expect(git(repo, 'rev-parse', `${checkpoint}^`)).toBe(sha);
    expect(git(repo, 'log', '-1', '--format=%s', store.branch)).toBe(
      'skill-optimizer(x): checkpoint before 03',
    );
    expect(await store.read('tests/f/spec.yaml')).toBe('edited');
    expect(await store.read('tests/f/out.log')).toBe('log');
    expect(await store.read('other.md')).toBeNull();
    expect(git(store.worktreeDir, 'status', '--porcelain')).toBe(
      '?? .skill-optimizer/keep-a-changelog/other.md',
    );
  });
});

describe('reading an earlier commit', () => {
  it('reads and lists files as they were at a given commit of the branch', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    const first = await store.commit('one', [
      { path: 'improved-skill/SKILL.md', content: 'v1\n' },
      { path: 'improved-skill/ref.md', content: 'ref\n' },
    ]);
    await store.commit('two', [
      { path: 'improved-skill/SKILL.md', content: 'v2\n' },
      { path: 'improved-skill/ref.md', delete: true },
    ]);
    expect(await store.read('improved-skill/SKILL.md')).toBe('v2\n');
    expect(await store.read('improved-skill/SKILL.md', first)).toBe('v1\n');
    expect(await store.list('improved-skill', first)).toEqual([
      'improved-skill/SKILL.md',
      'improved-skill/ref.md',
    ]);
    expect(await store.list('improved-skill')).toEqual(['improved-skill/SKILL.md']);
    await expect(store.read('improved-skill/SKILL.md', '--all')).rejects.toThrow(
      "not a commit sha: '--all'",
    );
  });
});
