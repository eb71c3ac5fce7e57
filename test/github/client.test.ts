import { inspect } from 'node:util';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createGitHubClient, fromOctokit } from '../../src/github/client.js';
import { GitHubRequestError, GitHubUnavailableError } from '../../src/github/errors.js';
import { getBranchSha } from '../../src/github/git-data.js';
import { getPullRequest } from '../../src/github/pulls.js';
import { api, failure, OWNER, REPO, sha, TOKEN, testClient } from './fixture.js';

const PULL = {
  number: 7,
  state: 'open',
  draft: false,
  body: null,
  user: { login: 'alice' },
  head: { ref: 'feature', sha: sha('head'), repo: { full_name: `${OWNER}/${REPO}` } },
  base: { ref: 'main', repo: { full_name: `${OWNER}/${REPO}` } },
};

afterEach(() => {
  nock.cleanAll();
});

describe('retry', () => {
  it('retries a 5xx and returns the answer that follows', async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .reply(502, failure('Bad Gateway', 502))
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .reply(503, failure('Service Unavailable', 503))
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .reply(200, PULL);
    const { client } = testClient({ retry: true, retryDelayMs: 1 });
    const pull = await getPullRequest(client, { owner: OWNER, repo: REPO, number: 7 });
    expect(pull.headRef).toBe('feature');
    expect(scope.isDone()).toBe(true);
  });

  it('gives up after the retries with the command to try again', async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .times(3)
      .reply(500, failure('Server Error', 500));
    const { client } = testClient({ retry: true, retries: 2, retryDelayMs: 1 });
    const error = await getPullRequest(client, { owner: OWNER, repo: REPO, number: 7 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(GitHubUnavailableError);
    expect((error as GitHubUnavailableError).message).toBe(
      `could not read pull request #7 in ${OWNER}/${REPO}: GitHub is unavailable (500) even after retrying; try again: /optimize`,
    );
    expect((error as GitHubUnavailableError).retry).toBe('/optimize');
    expect(scope.isDone()).toBe(true);
  });

  it('does not retry a 422', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/pulls/7/requested_reviewers`, { reviewers: ['alice'] })
      .once()
      .reply(422, failure('Review cannot be requested from pull request author.', 422));
    const { client } = testClient({ retry: true, retryDelayMs: 1 });
    const { requestReviewers } = await import('../../src/github/pulls.js');
    const error = await requestReviewers(client, {
      owner: OWNER,
      repo: REPO,
      number: 7,
      reviewers: ['alice'],
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GitHubRequestError);
    expect((error as Error).message).toBe(
      `could not request a review on pull request #7 in ${OWNER}/${REPO}: GitHub answered 422: Review cannot be requested from pull request author.`,
    );
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});

describe('throttling', () => {
  const ref = `/repos/${OWNER}/${REPO}/git/ref/heads%2Fwork`;
  const secondary = failure('You have exceeded a secondary rate limit. Please wait.', 429);

  it('waits out a 429 secondary rate limit (retry-after) and retries', async () => {
    const scope = api()
      .get(ref)
      .reply(429, secondary, { 'retry-after': '2' })
      .get(ref)
      .reply(200, { object: { sha: sha('tip') } });
    const { client, logged } = testClient({ throttle: true, retryDelayMs: 1 });
    expect(await getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' })).toBe(
      sha('tip'),
    );
    expect(scope.isDone()).toBe(true);
    expect(logged.filter((line) => line.startsWith('warn GitHub'))).toEqual([
      'warn GitHub secondary rate limit on GET /repos/{owner}/{repo}/git/ref/{ref}: retrying in 2s (retry 1 of 2)',
    ]);
  });

  it('stops after the bounded number of retries and says so plainly', async () => {
    const scope = api().get(ref).times(3).reply(429, secondary, { 'retry-after': '1' });
    const { client, logged } = testClient({ throttle: true, retryDelayMs: 1 });
    const error = await getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(GitHubUnavailableError);
    expect((error as Error).message).toBe(
      `could not read the branch work in ${OWNER}/${REPO}: GitHub's rate limit was hit and did not clear in time (429: You have exceeded a secondary rate limit. Please wait.); try again: /optimize`,
    );
    expect(logged.filter((line) => line.startsWith('warn GitHub'))).toEqual([
      'warn GitHub secondary rate limit on GET /repos/{owner}/{repo}/git/ref/{ref}: retrying in 1s (retry 1 of 2)',
      'warn GitHub secondary rate limit on GET /repos/{owner}/{repo}/git/ref/{ref}: retrying in 1s (retry 2 of 2)',
      'warn GitHub secondary rate limit on GET /repos/{owner}/{repo}/git/ref/{ref}: not retrying (clears in 1s)',
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('waits out a 403 primary rate limit until its reset and retries', async () => {
    const scope = api()
      .get(ref)
      .reply(403, failure('API rate limit exceeded for installation ID 1.', 403), {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': '0',
      })
      .get(ref)
      .reply(200, { object: { sha: sha('tip') } });
    const { client, logged } = testClient({ throttle: true, retryDelayMs: 1 });
    expect(await getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' })).toBe(
      sha('tip'),
    );
    expect(logged.filter((line) => line.startsWith('warn GitHub'))).toEqual([
      'warn GitHub rate limit on GET /repos/{owner}/{repo}/git/ref/{ref}: retrying in 0s (retry 1 of 2)',
    ]);
    expect(scope.isDone()).toBe(true);
  });

  it('does not wait for a rate limit that clears too late', async () => {
    const scope = api().get(ref).once().reply(429, secondary, { 'retry-after': '3600' });
    const { client } = testClient({ throttle: true, retryDelayMs: 1, maxRateLimitWaitSeconds: 60 });
    await expect(
      getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' }),
    ).rejects.toThrow(GitHubUnavailableError);
    expect(scope.isDone()).toBe(true);
  });
});

describe('the token', () => {
  it('never appears in errors, logs or the client itself', async () => {
    const echoed = `Bad credentials for token ${TOKEN}`;
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .reply(401, failure(echoed, 401))
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fwork`)
      .reply(429, failure(`secondary rate limit for ${TOKEN}`, 429), { 'retry-after': '1' })
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fwork`)
      .reply(500, failure(`oops ${TOKEN}`, 500));
    const { client, logged } = testClient({ throttle: true, retryDelayMs: 1 });
    const seen: string[] = [];
    for (const attempt of [
      () => getPullRequest(client, { owner: OWNER, repo: REPO, number: 7 }),
      () => getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' }),
    ]) {
      const error = await attempt().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      seen.push((error as Error).message, String(error), inspect(error, { depth: 8 }));
    }
    expect(seen[0]).toContain('GitHub rejected the token (401: Bad credentials for token ***)');
    expect(logged.length).toBeGreaterThan(0);
    seen.push(...logged, JSON.stringify(client), inspect(client, { depth: 4 }), String(client));
    seen.push(Object.keys(client).join(','));
    for (const text of seen) expect(text).not.toContain(TOKEN);
    expect(client.redact(`x ${TOKEN} y`)).toBe('x *** y');
    expect(scope.isDone()).toBe(true);
  });

  it('sends the token as the authorization header', async () => {
    const scope = nock('https://api.github.com', {
      reqheaders: { authorization: `token ${TOKEN}` },
    })
      .get(`/repos/${OWNER}/${REPO}/git/ref/heads%2Fwork`)
      .reply(200, { object: { sha: sha('tip') } });
    const { client } = testClient();
    await getBranchSha(client, { owner: OWNER, repo: REPO, branch: 'work' });
    expect(scope.isDone()).toBe(true);
  });

  it('is required', () => {
    expect(() => createGitHubClient({ token: ' ' })).toThrow(/no GitHub token was given/);
  });
});

describe('fromOctokit', () => {
  it('wraps an Octokit someone else authenticated', async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/7`)
      .reply(200, { ...PULL, draft: true });
    const { client: source } = testClient();
    const client = fromOctokit(source.octokit, { retryCommand: 're-run the job' });
    expect(client.retryCommand).toBe('re-run the job');
    expect((await getPullRequest(client, { owner: OWNER, repo: REPO, number: 7 })).draft).toBe(
      true,
    );
    expect(scope.isDone()).toBe(true);
  });

  it('refuses anything that is not an Octokit', () => {
    expect(() => fromOctokit({ request: () => {} })).toThrow(/needs an Octokit instance/);
    expect(() => fromOctokit(null)).toThrow(/needs an Octokit instance/);
  });
});
