import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { GitHubNotFoundError } from '../../src/github/errors.js';
import { createGitHubUpstreamReader, githubSource } from '../../src/github/upstream-reader.js';
import { CONTRIBUTING_TEXT, mockUpstreamRead } from '../action/upstream-api.js';
import { api, failure, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const at = `/repos/${OWNER}/${REPO}`;

function reader(path: string | null = 'skills/keep-a-changelog') {
  const { client } = testClient();
  const asked: string[] = [];
  return {
    asked,
    reader: createGitHubUpstreamReader({
      client,
      locate: (source) => {
        asked.push(source);
        return { owner: OWNER, repo: REPO, path };
      },
    }),
  };
}

describe('the GitHub upstream reader', () => {
  it('reads license, contributing, closed PRs (merged or not), default branch and SKILL.md frontmatter', async () => {
    const scope = api();
    mockUpstreamRead(scope, { owner: OWNER, repo: REPO, defaultBranch: 'main' });
    const { reader: r, asked } = reader();

    const info = await r.read('skills/keep-a-changelog');

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(asked).toEqual(['skills/keep-a-changelog']);
    expect(info).toEqual({
      repo: 'acme/skills',
      defaultBranch: 'main',
      license: 'SPDX: MIT\n\nMIT License\n\nCopyright (c) 2026 The Maintainers',
      contributing: CONTRIBUTING_TEXT,
      recentChanges: [
        {
          title: 'release-notes: say when to use the skill',
          state: 'merged',
          body: 'Clarifies the description.',
        },
        { title: 'Add a huge examples folder', state: 'closed', body: '' },
      ],
      skillFrontmatterExamples: [
        '# skills/release-notes/SKILL.md\n---\nname: release-notes\ndescription: Write release notes. Use when cutting a release.\n---',
      ],
      skillPath: null,
    });
  });

  it('finds the skill at its path, or at the one folder of the same name elsewhere', async () => {
    const scope = api();
    mockUpstreamRead(scope, {
      owner: OWNER,
      repo: REPO,
      defaultBranch: 'main',
      skillPath: 'plugins/docs/skills/keep-a-changelog',
    });
    const info = await reader().reader.read('skills/keep-a-changelog');
    expect(scope.isDone()).toBe(true);
    expect(info.skillPath).toBe('plugins/docs/skills/keep-a-changelog');
    expect(info.skillFrontmatterExamples).toHaveLength(2);
  });

  it('has no license when GitHub finds none (404), and prefers a root CONTRIBUTING over .github/ and docs/', async () => {
    const contributing = sha('contrib-root');
    const scope = api()
      .get(at)
      .reply(200, { default_branch: 'trunk' })
      .get(`${at}/git/trees/trunk`)
      .query({ recursive: '1' })
      .reply(200, {
        truncated: true,
        tree: [
          { path: 'docs/CONTRIBUTING.md', type: 'blob', mode: '100644', sha: sha('docs') },
          { path: '.github/CONTRIBUTING.md', type: 'blob', mode: '100644', sha: sha('gh') },
          { path: 'contributing.md', type: 'blob', mode: '100644', sha: contributing },
          { path: 'SKILL.md', type: 'blob', mode: '100644', sha: sha('root-skill') },
        ],
      })
      .get(`${at}/git/blobs/${contributing}`)
      .reply(200, { encoding: 'base64', content: Buffer.from('root guide').toString('base64') })
      .get(`${at}/git/blobs/${sha('root-skill')}`)
      .reply(200, { encoding: 'base64', content: Buffer.from('no frontmatter').toString('base64') })
      .get(`${at}/license`)
      .reply(404, failure('Not Found', 404))
      .get(`${at}/pulls`)
      .query({ state: 'closed', per_page: 20 })
      .reply(200, []);
    const info = await reader('.').reader.read('.');
    expect(scope.isDone()).toBe(true);
    expect(info).toMatchObject({
      defaultBranch: 'trunk',
      license: null,
      contributing: 'root guide',
      recentChanges: [],
      skillFrontmatterExamples: [],
      skillPath: '.',
    });
  });

  it('never reads a symlink (mode 120000) as a file: its blob is only the target path', async () => {
    const scope = api()
      .get(at)
      .reply(200, { default_branch: 'main' })
      .get(`${at}/git/trees/main`)
      .query({ recursive: '1' })
      .reply(200, {
        truncated: false,
        tree: [
          { path: 'CONTRIBUTING.md', type: 'blob', mode: '120000', sha: sha('link') },
          { path: 'docs/CONTRIBUTING.md', type: 'blob', mode: '100644', sha: sha('docs') },
          { path: 'skills/k/SKILL.md', type: 'blob', mode: '120000', sha: sha('skill-link') },
        ],
      })
      .get(`${at}/git/blobs/${sha('docs')}`)
      .reply(200, { encoding: 'base64', content: Buffer.from('docs guide').toString('base64') })
      .get(`${at}/license`)
      .reply(404, failure('Not Found', 404))
      .get(`${at}/pulls`)
      .query({ state: 'closed', per_page: 20 })
      .reply(200, []);
    const info = await reader('skills/k').reader.read('skills/k');
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(info).toMatchObject({
      contributing: 'docs guide',
      skillFrontmatterExamples: [],
      skillPath: null,
    });
  });

  it('reads at most five SKILL.md files, shallowest first', async () => {
    const tree = Array.from({ length: 7 }, (_, i) => ({
      path: `${'d/'.repeat(i)}s${i}/SKILL.md`,
      type: 'blob',
      mode: '100644',
      sha: sha(`skill-${i}`),
    }));
    const scope = api()
      .get(at)
      .reply(200, { default_branch: 'main' })
      .get(`${at}/git/trees/main`)
      .query({ recursive: '1' })
      .reply(200, { truncated: false, tree })
      .get(`${at}/license`)
      .reply(404, failure('Not Found', 404))
      .get(`${at}/pulls`)
      .query({ state: 'closed', per_page: 20 })
      .reply(200, []);
    for (const entry of tree.slice(0, 5)) {
      scope.get(`${at}/git/blobs/${entry.sha}`).reply(200, {
        encoding: 'base64',
        content: Buffer.from(`---\nname: ${entry.path}\n---\n`).toString('base64'),
      });
    }
    const info = await reader(null).reader.read('x');
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(info.skillFrontmatterExamples.map((e) => e.split('\n')[0])).toEqual(
      tree.slice(0, 5).map((e) => `# ${e.path}`),
    );
    expect(info.skillPath).toBeNull();
  });

  it('says plainly when the upstream repository cannot be seen', async () => {
    const scope = api().get(at).reply(404, failure('Not Found', 404));
    await expect(reader().reader.read('skills/x')).rejects.toThrow(GitHubNotFoundError);
    expect(scope.isDone()).toBe(true);
  });
});

describe('githubSource', () => {
  it('reads owner, repository and folder from github.com URLs', () => {
    expect(githubSource('https://github.com/acme/skills')).toEqual({
      owner: 'acme',
      repo: 'skills',
      path: null,
    });
    expect(githubSource('https://github.com/acme/skills.git')).toMatchObject({ repo: 'skills' });
    expect(githubSource('https://github.com/acme/skills/tree/main/skills/x/')).toEqual({
      owner: 'acme',
      repo: 'skills',
      path: 'skills/x',
    });
    expect(githubSource('https://github.com/acme/skills/blob/v2/skills/x/SKILL.md')).toEqual({
      owner: 'acme',
      repo: 'skills',
      path: 'skills/x',
    });
  });

  it('refuses anything else', () => {
    for (const value of [
      'acme/skills',
      'http://github.com/acme/skills',
      'https://gitlab.com/acme/skills',
      'https://github.com/acme',
      'https://github.com/acme/skills/tree/main/../../etc',
      'https://github.com.evil.example/acme/skills',
      '../skills/x',
    ]) {
      expect(githubSource(value), value).toBeNull();
    }
  });
});
