import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectReader } from '../../src/store/cat-file.js';
import { runGit } from '../../src/store/git.js';
import {
  countGitProcesses,
  type GitProcessCount,
  gitSubcommand,
} from '../../src/store/git-meter.js';
import { type LocalRunStore, openLocalRun } from '../../src/store/local.js';
import { makeRepo, useGitSandbox } from './git-fixture.js';

/** Budgets of git processes: a regression that adds a process per read or per commit fails here. */

const sandbox = useGitSandbox();
const open: LocalRunStore[] = [];
const meters: GitProcessCount[] = [];

afterEach(async () => {
  for (const meter of meters.splice(0)) meter.stop();
  for (const store of open.splice(0)) await store.close();
});

function meter(): GitProcessCount {
  const m = countGitProcesses();
  meters.push(m);
  return m;
}

async function openRun(repoDir: string): Promise<LocalRunStore> {
  const store = await openLocalRun({ repoDir, slug: 'demo' });
  open.push(store);
  return store;
}

describe('countGitProcesses', () => {
  it('counts runGit and the long-lived readers by subcommand, until stopped', async () => {
    const repo = await makeRepo(sandbox.base);
    const m = meter();
    await runGit(['-c', 'core.quotepath=off', 'status', '--porcelain'], { cwd: repo });
    await runGit(['rev-parse', 'HEAD'], { cwd: repo });
    const reader = new ObjectReader(repo);
    await Promise.all([reader.read('HEAD', 'README.md'), reader.read('HEAD', '')]);
    reader.close();
    expect(m.total).toBe(3);
    expect(m.describe()).toBe('cat-file ×1, rev-parse ×1, status ×1');
    m.stop();
    await runGit(['rev-parse', 'HEAD'], { cwd: repo });
    expect(m.total).toBe(3);
  });

  it('names the subcommand after options and their values', () => {
    expect(gitSubcommand(['-c', 'a=b', '--literal-pathspecs', 'log', '-1'])).toBe('log');
    expect(gitSubcommand(['-C', 'dir', 'commit'])).toBe('commit');
    expect(gitSubcommand(['--version'])).toBe('');
  });
});

describe('git processes of the run store', () => {
  it('a step commit costs status, add, commit and status; reads and staleness cost none', async () => {
    const repo = await makeRepo(sandbox.base);
    const store = await openRun(repo);
    await store.commit('warm up', [{ path: 'intent.md', content: 'i' }]);
    expect(await store.read('intent.md')).toBe('i'); // starts the long-lived cat-file --batch

    const commit = meter();
    const sha = await store.commit('01 functionality', [
      { path: '01-functionality.md', content: 'report' },
      { path: 'tests/p1/spec.yaml', content: 'spec' },
    ]);
    commit.stop();
    expect(commit.describe()).toBe('status ×2, add ×1, commit ×1');

    const reads = meter();
    expect(await store.head()).toBe(sha);
    expect(await store.read('01-functionality.md')).toBe('report');
    expect(await store.list('tests')).toEqual(['tests/p1/spec.yaml']);
    expect(await store.exists('tests/p1')).toBe(true);
    expect(await store.isStale(['01-functionality.md'], ['intent.md'])).toBe(false);
    expect(await store.isStale(['intent.md'], ['tests'])).toBe(true);
    expect(await store.lastCommitTouching(['tests'])).toBe(sha);
    reads.stop();
    expect(reads.total).toBe(0);

    await writeFile(store.absolutePath('tests/p1/spec.yaml'), 'edited by a tool');
    const checkpoint = meter();
    expect(await store.checkpoint('checkpoint', ['tests'])).not.toBeNull();
    checkpoint.stop();
    expect(checkpoint.describe()).toBe('add ×1, commit ×1, diff ×1');
  });

  it('a demo-sized run (open, 15 steps of staleness checks, reads and a commit) stays within 75', async () => {
    const repo = await makeRepo(sandbox.base);
    const m = meter();
    const store = await openRun(repo);
    const opened = m.total;
    let previous = 'intent.md';
    await store.commit('intent', [{ path: previous, content: 'intent' }]);
    for (let step = 1; step <= 15; step++) {
      const report = `${String(step).padStart(2, '0')}-report.md`;
      await store.isStale([report], [previous]);
      await store.list('');
      await Promise.all((await store.list('')).map((path) => store.read(path)));
      await store.commit(`step ${step}`, [
        { path: report, content: `step ${step}` },
        { path: `tests/p${step}/spec.yaml`, content: 'spec' },
      ]);
      expect(await store.isStale([report], [previous])).toBe(false);
      previous = report;
    }
    m.stop();
    expect(opened).toBeLessThanOrEqual(10);
    // The open, 4 per commit and the two long-lived cat-file readers; nothing per read or check.
    expect(m.total, m.describe()).toBeLessThanOrEqual(opened + 16 * 4 + 2);
    expect(m.total).toBeLessThanOrEqual(75);
  });
});
