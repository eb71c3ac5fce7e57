import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPullRequest,
  findPullRequestByHead,
  getPullRequest,
  listOpenPullRequestsInto,
  listPullRequestFiles,
  requestReviewers,
  updatePullRequestBody,
} from '../../src/github/pulls.js';
import { api, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const pulls = `/repos/${OWNER}/${REPO}/pulls`;

describe('getPullRequest', () => {
  it('flattens a fork pull request', async () => {
    const scope = api()
      .get(`${pulls}/3`)
      .reply(200, {
        number: 3,
        state: 'open',
        draft: true,
        body: null,
        user: { login: 'outsider' },
        head: { ref: 'patch-1', sha: sha('head'), repo: { full_name: 'outsider/skills' } },
        base: { ref: 'main', repo: { full_name: `${OWNER}/${REPO}` } },
      })
      .get(`${pulls}/4`)
      .reply(200, {
        number: 4,
        state: 'closed',
        draft: false,
        body: 'text',
        user: { login: 'alice' },
        head: { ref: 'gone', sha: sha('old'), repo: null },
        base: { ref: 'main', repo: { full_name: `${OWNER}/${REPO}` } },
      });
    const { client } = testClient();
    expect(await getPullRequest(client, { owner: OWNER, repo: REPO, number: 3 })).toEqual({
      number: 3,
      state: 'open',
      headRef: 'patch-1',
      headSha: sha('head'),
      headRepoFullName: 'outsider/skills',
      baseRef: 'main',
      isFork: true,
      draft: true,
      body: '',
      user: 'outsider',
    });
    const deleted = await getPullRequest(client, { owner: OWNER, repo: REPO, number: 4 });
    expect(deleted).toMatchObject({ state: 'closed', headRepoFullName: null, isFork: true });
    expect(scope.isDone()).toBe(true);
  });
});

describe('pull request calls', () => {
  it('lists every changed path across pages', async () => {
    const next = `https://api.github.com/repositories/1/pulls/3/files?per_page=100&page=2`;
    const scope = api()
      .get(`${pulls}/3/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/a/SKILL.md' }], { link: `<${next}>; rel="next"` })
      .get('/repositories/1/pulls/3/files')
      .query({ per_page: 100, page: 2 })
      .reply(200, [{ filename: 'README.md' }]);
    const { client } = testClient();
    expect(await listPullRequestFiles(client, { owner: OWNER, repo: REPO, number: 3 })).toEqual([
      'skills/a/SKILL.md',
      'README.md',
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('opens a draft, updates its body, finds it by head and requests review', async () => {
    const scope = api()
      .post(pulls, { head: 'skill-optimizer/a', base: 'main', title: 'T', body: 'B', draft: true })
      .reply(201, { number: 21, html_url: 'https://github.com/acme/skills/pull/21' })
      .patch(`${pulls}/21`, { body: 'B2' })
      .reply(200, { number: 21 })
      .get(pulls)
      .query({ head: `${OWNER}:skill-optimizer/a`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [{ number: 21, body: 'B2' }])
      .get(pulls)
      .query({ head: 'fork:x', base: 'main', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${pulls}/21/requested_reviewers`, { reviewers: ['alice'] })
      .reply(201, {});
    const { client } = testClient();
    const repo = { owner: OWNER, repo: REPO };
    expect(
      await createPullRequest(client, {
        ...repo,
        head: 'skill-optimizer/a',
        base: 'main',
        title: 'T',
        body: 'B',
      }),
    ).toEqual({ number: 21, url: 'https://github.com/acme/skills/pull/21' });
    await updatePullRequestBody(client, { ...repo, number: 21, body: 'B2' });
    expect(
      await findPullRequestByHead(client, { ...repo, head: 'skill-optimizer/a', base: 'main' }),
    ).toEqual({ number: 21, body: 'B2' });
    expect(
      await findPullRequestByHead(client, { ...repo, head: 'fork:x', base: 'main' }),
    ).toBeNull();
    await requestReviewers(client, { ...repo, number: 21, reviewers: ['alice'] });
    await requestReviewers(client, { ...repo, number: 21, reviewers: [] });
    expect(scope.isDone()).toBe(true);
  });
});

describe('listOpenPullRequestsInto', () => {
  it('lists every open pull request into a branch', async () => {
    const scope = api()
      .get(pulls)
      .query({ base: 'feature', state: 'open', per_page: 100 })
      .reply(200, [
        {
          number: 5,
          body: null,
          head: { ref: 'skill-optimizer/a', repo: { full_name: 'acme/skills' } },
        },
        { number: 6, body: 'x', head: { ref: 'patch', repo: null } },
      ]);
    const { client } = testClient();
    expect(
      await listOpenPullRequestsInto(client, { owner: OWNER, repo: REPO, base: 'feature' }),
    ).toEqual([
      { number: 5, body: null, headRef: 'skill-optimizer/a', headRepoFullName: 'acme/skills' },
      { number: 6, body: 'x', headRef: 'patch', headRepoFullName: null },
    ]);
    expect(scope.isDone()).toBe(true);
  });
});
