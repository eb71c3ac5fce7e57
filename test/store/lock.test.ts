import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunLockedError } from '../../src/store/errors.js';
import { openLocalRun } from '../../src/store/local.js';
import { acquireRunLock } from '../../src/store/lock.js';
import { makeRepo, useGitSandbox } from './git-fixture.js';

const sandbox = useGitSandbox();
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'so-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  return child.pid;
}

function lockContent(pid: number, host = hostname()): string {
  return JSON.stringify({ pid, host, startedAt: '2025-01-02T03:04:05.000Z', token: 'old' });
}

describe('acquireRunLock', () => {
  it('is exclusive while held and free again after release', async () => {
    const path = join(dir, 'a.lock');
    const lock = await acquireRunLock(path, {
      slug: 'a',
      now: () => new Date('2025-06-01T00:00:00Z'),
    });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      pid: process.pid,
      startedAt: '2025-06-01T00:00:00.000Z',
    });
    const error = await acquireRunLock(path, { slug: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunLockedError);
    expect((error as Error).message).toBe(
      `a run of 'a' is already in progress (pid ${process.pid} since 2025-06-01T00:00:00.000Z); if that process is gone, delete ${path} and retry`,
    );
    await lock.release();
    await lock.release();
    expect(existsSync(path)).toBe(false);
    const again = await acquireRunLock(path, { slug: 'a' });
    await again.release();
  });

  it('takes over a lock whose process is gone and says so', async () => {
    const path = join(dir, 'b.lock');
    const pid = deadPid();
    await writeFile(path, lockContent(pid));
    const notes: string[] = [];
    const lock = await acquireRunLock(path, { slug: 'b', onRecover: (m) => notes.push(m) });
    expect(lock.tookOverFrom).toEqual({ pid, startedAt: '2025-01-02T03:04:05.000Z' });
    expect(notes).toEqual([
      `took over the lock of run 'b' from pid ${pid} (started 2025-01-02T03:04:05.000Z), which is no longer running`,
    ]);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('refuses a lock from another machine and an unreadable lock', async () => {
    const remote = join(dir, 'c.lock');
    await writeFile(remote, lockContent(deadPid(), 'some-other-host'));
    await expect(acquireRunLock(remote, { slug: 'c' })).rejects.toThrow(
      /pid \d+ on some-other-host/,
    );
    const broken = join(dir, 'd.lock');
    await writeFile(broken, '{"pid":');
    await expect(acquireRunLock(broken, { slug: 'd' })).rejects.toThrow(/cannot be read/);
    expect(await readFile(broken, 'utf8')).toBe('{"pid":');
  });

  it('release leaves a lock that is no longer its own', async () => {
    const path = join(dir, 'e.lock');
    const lock = await acquireRunLock(path, { slug: 'e' });
    await writeFile(path, lockContent(process.pid));
    await lock.release();
    expect(existsSync(path)).toBe(true);
  });
});

describe('openLocalRun locking', () => {
  it('refuses a second open of the same run and allows other slugs', async () => {
    const repo = await makeRepo(sandbox.base);
    const first = await openLocalRun({ repoDir: repo, slug: 'one' });
    await expect(openLocalRun({ repoDir: repo, slug: 'one' })).rejects.toThrow(
      new RegExp(`^a run of 'one' is already in progress \\(pid ${process.pid} since `),
    );
    const other = await openLocalRun({ repoDir: repo, slug: 'two' });
    await other.close();
    await first.close();
    const again = await openLocalRun({ repoDir: repo, slug: 'one' });
    await again.close();
  });

  it('takes over the lock of a dead run and removes the index lock it left', async () => {
    const repo = await makeRepo(sandbox.base);
    const first = await openLocalRun({ repoDir: repo, slug: 'crashed' });
    const sha = await first.commit('one', [{ path: 'a.md', content: 'a' }]);
    await first.close();
    const lockPath = `${first.worktreeDir}.lock`;
    await writeFile(lockPath, lockContent(deadPid()));
    const indexLock = join(repo, '.git', 'worktrees', 'crashed', 'index.lock');
    await writeFile(indexLock, '');

    const notes: string[] = [];
    const store = await openLocalRun({
      repoDir: repo,
      slug: 'crashed',
      onRecover: (m) => notes.push(m),
    });
    expect(notes[0]).toMatch(/^took over the lock of run 'crashed'/);
    expect(notes[1]).toContain('index.lock');
    expect(existsSync(indexLock)).toBe(false);
    expect(await store.head()).toBe(sha);
    await store.commit('two', [{ path: 'b.md', content: 'b' }]);
    await store.close();
    expect(existsSync(lockPath)).toBe(false);
  });
});
