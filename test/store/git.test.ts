import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkillOptimizerError } from '../../src/errors.js';
import { GitError, runGit } from '../../src/store/git.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'so-git-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runGit', () => {
  it('reports the command and the first lines of stderr', async () => {
    const error = await runGit(['rev-parse', '--verify', 'no-such-ref'], { cwd: dir }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GitError);
    expect(error).toBeInstanceOf(SkillOptimizerError);
    const message = (error as GitError).message;
    expect(message).toMatch(/^git rev-parse --verify no-such-ref failed \(exit 128\): fatal: /);
    expect((error as GitError).exitCode).toBe(128);
  });

  it('returns exit codes listed as answers', async () => {
    const result = await runGit(['check-ref-format', '--branch', 'a..b'], {
      cwd: dir,
      okCodes: [1, 128],
    });
    expect(result.exitCode).not.toBe(0);
  });

  it('passes arguments and stdin without a shell', async () => {
    const marker = join(dir, 'pwned');
    await expect(
      runGit(['hash-object', `$(touch ${marker})`], { cwd: dir }),
    ).rejects.toBeInstanceOf(GitError);
    const hashed = await runGit(['hash-object', '--stdin'], {
      cwd: dir,
      input: `$(touch ${marker})`,
    });
    expect(hashed.stdout.trim()).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(marker)).toBe(false);
  });

  it('says when the folder to run in does not exist', async () => {
    await expect(runGit(['status'], { cwd: join(dir, 'missing') })).rejects.toThrow(
      /does not exist/,
    );
  });

  it('ignores an inherited GIT_DIR', async () => {
    const saved = process.env.GIT_DIR;
    process.env.GIT_DIR = join(dir, 'elsewhere.git');
    try {
      const result = await runGit(['rev-parse', '--is-inside-work-tree'], {
        cwd: dir,
        okCodes: [128],
      });
      expect(result.exitCode).toBe(128);
    } finally {
      if (saved === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = saved;
    }
  });
});
