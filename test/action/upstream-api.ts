import type nock from 'nock';

/**
 * The REST answers step 2's GitHub reader gets for an upstream repository: its settings, the
 * recursive tree of the default branch (a LICENSE, a CONTRIBUTING.md, one other skill), the
 * license, two closed pull requests (one merged) and the two blobs it reads.
 */

export const CONTRIBUTING_TEXT =
  '# Contributing\n\nOne skill change per pull request. Sign off your commits.\n';
export const OTHER_SKILL_TEXT =
  '---\nname: release-notes\ndescription: Write release notes. Use when cutting a release.\n---\n\n# Release notes\n';
const CONTRIBUTING_SHA = 'c0'.repeat(20);
const OTHER_SKILL_SHA = '5e'.repeat(20);

export function mockUpstreamRead(
  scope: nock.Scope,
  repo: { owner: string; repo: string; defaultBranch: string; skillPath?: string },
): void {
  const at = `/repos/${repo.owner}/${repo.repo}`;
  const blob = (path: string, sha: string) => ({ path, mode: '100644', type: 'blob', sha });
  scope.get(at).reply(200, {
    full_name: `${repo.owner}/${repo.repo}`,
    default_branch: repo.defaultBranch,
  });
  scope
    .get(`${at}/git/trees/${repo.defaultBranch}`)
    .query({ recursive: '1' })
    .reply(200, {
      sha: 'ab'.repeat(20),
      truncated: false,
      tree: [
        blob('LICENSE', '1c'.repeat(20)),
        blob('CONTRIBUTING.md', CONTRIBUTING_SHA),
        { path: 'skills', mode: '040000', type: 'tree', sha: 'dd'.repeat(20) },
        blob('skills/release-notes/SKILL.md', OTHER_SKILL_SHA),
        ...(repo.skillPath ? [blob(`${repo.skillPath}/SKILL.md`, OTHER_SKILL_SHA)] : []),
      ],
    });
  scope.get(`${at}/git/blobs/${CONTRIBUTING_SHA}`).reply(200, {
    sha: CONTRIBUTING_SHA,
    encoding: 'base64',
    content: Buffer.from(CONTRIBUTING_TEXT).toString('base64'),
  });
  scope
    .get(`${at}/git/blobs/${OTHER_SKILL_SHA}`)
    .times(repo.skillPath ? 2 : 1)
    .reply(200, {
      sha: OTHER_SKILL_SHA,
      encoding: 'base64',
      content: Buffer.from(OTHER_SKILL_TEXT).toString('base64'),
    });
  scope.get(`${at}/license`).reply(200, {
    name: 'LICENSE',
    path: 'LICENSE',
    encoding: 'base64',
    content: Buffer.from('MIT License\n\nCopyright (c) 2026 The Maintainers\n').toString('base64'),
    license: { key: 'mit', name: 'MIT License', spdx_id: 'MIT' },
  });
  scope
    .get(`${at}/pulls`)
    .query({ state: 'closed', per_page: 20 })
    .reply(200, [
      {
        number: 41,
        title: 'release-notes: say when to use the skill',
        body: 'Clarifies the description.',
        merged_at: '2026-01-10T10:00:00Z',
      },
      {
        number: 40,
        title: 'Add a huge examples folder',
        body: null,
        merged_at: null,
      },
    ]);
}
