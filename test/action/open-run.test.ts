import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGitHubRun } from '../../src/action/open-run.js';
import type { WorkRemote } from '../../src/action/remote.js';
import { PathEscapeError } from '../../src/errors.js';
import { git, makeRepo, useGitSandbox } from '../store/git-fixture.js';

/** The Action vendors from its checkout, where a PR's symlinks are real links: judged by real path. */

const sandbox = useGitSandbox();

const skillMd = '---\nname: kac\ndescription: Keeps changelogs.\n---\n\nBody.\n';

/** A remote with no work branch yet that records pushes (nothing reaches a network). */
function offlineRemote(pushed: string[]): WorkRemote {
  return {
    fetchBranch: async () => null,
    fetchRef: async () => {
      throw new Error('not used');
    },
    push: async (sha) => {
      pushed.push(sha);
    },
  };
}

async function start(repo: string, skillPath: string, pushed: string[]) {
  return startGitHubRun(
    { repoDir: repo, remote: offlineRemote(pushed), runRoot: '.skill-optimizer', answering: null },
    {
      pr: 7,
      skillPath,
      sourceSha: git(repo, 'rev-parse', 'HEAD'),
      intent: null,
      autopilot: false,
      actor: 'octocat',
      now: () => new Date('2026-01-01T00:00:00Z'),
    },
  );
}

describe('startGitHubRun vendoring', () => {
  it('refuses, naming the link, a PR skill folder whose parent is a committed symlink to outside', async () => {
    const outside = join(sandbox.base, 'outside-action', 'kac');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'SKILL.md'), skillMd);
    await writeFile(join(outside, 'secret.txt'), 'OUTSIDE-SECRET\n');
    const repo = await makeRepo(sandbox.base, { 'README.md': '# demo\n' });
    await symlink(join(outside, '..'), join(repo, 'skills'));
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', 'link skills');

    const pushed: string[] = [];
    const started = start(repo, 'skills/kac', pushed);
    await expect(started).rejects.toBeInstanceOf(PathEscapeError);
    await expect(started).rejects.toThrow(
      /^skills\/kac\/SKILL\.md: skills is a symlink at [0-9a-f]{12}; a skill is vendored only/,
    );
    expect(pushed).toEqual([]);
  });

  it('vendors a skill folder that lies in the repository', async () => {
    const repo = await makeRepo(sandbox.base, { 'skills/kac/SKILL.md': skillMd });
    const pushed: string[] = [];
    const run = await start(repo, 'skills/kac', pushed);
    try {
      expect(await run.store.read('vendored-skill/SKILL.md')).toBe(skillMd);
      expect(pushed).toHaveLength(1);
    } finally {
      await run.close();
    }
  });
});
