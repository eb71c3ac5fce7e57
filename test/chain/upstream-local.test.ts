import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalUpstreamReader,
  NotAGitRepositoryError,
  ownerAndName,
} from '../../src/chain/upstream-local.js';
import { countGitProcesses } from '../../src/store/git-meter.js';
import { git, makeRepo, useGitSandbox } from '../store/git-fixture.js';

const sandbox = useGitSandbox();
let repo: string;

const skill = (name: string) =>
  `---\nname: ${name}\ndescription: Does ${name} things.\nlicense: MIT\n---\n\n# ${name}\n\nBody.\n`;

beforeAll(async () => {
  repo = await makeRepo(sandbox.base, {
    LICENSE: 'MIT License\n\nCopyright (c) Acme\n',
    'CONTRIBUTING.md': '# Contributing\n\nTitles use the imperative mood. Sign the CLA.\n',
    'skills/keep-a-changelog/SKILL.md': skill('keep-a-changelog'),
    'skills/other/SKILL.md': skill('other'),
    'notes/README.md': 'no frontmatter here\n',
  });
  git(repo, 'checkout', '--quiet', '-b', 'feature');
  await writeFile(join(repo, 'skills/other/SKILL.md'), `${skill('other')}More.\n`);
  git(
    repo,
    'commit',
    '--quiet',
    '-am',
    'Sharpen the other skill',
    '-m',
    'Because reviewers asked.',
  );
  git(repo, 'checkout', '--quiet', 'main');
  git(repo, 'merge', '--quiet', '--no-ff', 'feature', '-m', 'Merge pull request #7 from x/feature');
  git(repo, 'remote', 'add', 'origin', 'git@github.com:acme/agent-skills.git');
  // Uncommitted work is not upstream: the reader uses HEAD only.
  await writeFile(join(repo, 'CONTRIBUTING.md'), 'uncommitted edit\n');
});

describe('createLocalUpstreamReader', () => {
  it('reads license, contributing guide, history and skill conventions from HEAD', async () => {
    const info = await createLocalUpstreamReader({ baseDir: repo }).read('skills/keep-a-changelog');
    expect(info.repo).toBe('acme/agent-skills');
    expect(info.defaultBranch).toBe('main');
    expect(info.license).toContain('MIT License');
    expect(info.contributing).toContain('imperative mood');
    expect(info.contributing).not.toContain('uncommitted');
    expect(info.skillPath).toBe('skills/keep-a-changelog');
    expect(info.recentChanges.map((c) => c.title)).toEqual([
      'Merge pull request #7 from x/feature (merge commit)',
      'Sharpen the other skill',
      'initial',
    ]);
    expect(info.recentChanges[1]).toEqual({
      title: 'Sharpen the other skill',
      state: 'merged',
      body: 'Because reviewers asked.',
    });
    expect(info.skillFrontmatterExamples).toHaveLength(2);
    expect(info.skillFrontmatterExamples[0]).toBe(
      '# skills/keep-a-changelog/SKILL.md\n---\nname: keep-a-changelog\ndescription: Does keep-a-changelog things.\nlicense: MIT\n---',
    );
  });

  it('reads every file through one cat-file: seven git processes, however many files', async () => {
    const count = countGitProcesses();
    try {
      await createLocalUpstreamReader({ baseDir: repo }).read('skills/keep-a-changelog');
    } finally {
      count.stop();
    }
    expect(count.describe()).toBe(
      'rev-parse ×2, cat-file ×1, config ×1, log ×1, ls-tree ×1, symbolic-ref ×1',
    );
  });

  it('takes the repository itself as the source, named after its folder without a remote', async () => {
    const plain = await makeRepo(sandbox.base, { 'SKILL.md': skill('solo') });
    const info = await createLocalUpstreamReader().read(plain);
    expect(info.repo).toBe(plain.split('/').pop());
    expect(info.skillPath).toBeNull();
    expect(info.license).toBeNull();
    expect(info.contributing).toBeNull();
    expect(info.skillFrontmatterExamples).toEqual([
      '# SKILL.md\n---\nname: solo\ndescription: Does solo things.\nlicense: MIT\n---',
    ]);
  });

  it('refuses a folder outside any git repository, and a missing folder', async () => {
    const loose = join(sandbox.base, 'not-a-repo');
    await mkdir(loose);
    const reader = createLocalUpstreamReader();
    await expect(reader.read(loose)).rejects.toThrow(NotAGitRepositoryError);
    await expect(reader.read(loose)).rejects.toThrow(/not inside a git repository/);
    await expect(reader.read(join(sandbox.base, 'nowhere'))).rejects.toThrow(/is not a folder/);
  });

  it('names the default branch from HEAD', async () => {
    const other = await makeRepo(sandbox.base);
    git(other, 'checkout', '--quiet', '-b', 'develop');
    expect((await createLocalUpstreamReader().read(other)).defaultBranch).toBe('develop');
  });
});

describe('ownerAndName', () => {
  it.each([
    ['https://github.com/acme/skills.git', 'acme/skills'],
    ['https://github.com/acme/skills', 'acme/skills'],
    ['git@github.com:acme/skills.git', 'acme/skills'],
    ['ssh://git@example.com/team/my.skills.git', 'team/my.skills'],
  ])('%s → %s', (url, expected) => {
    expect(ownerAndName(url)).toBe(expected);
  });
});
