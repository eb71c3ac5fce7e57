import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { listReviewComments, postGateReview } from '../../src/github/reviews.js';
import { api, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

describe('reviews', () => {
  it('posts a gate as a COMMENT review pinned to the commit', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/pulls/21/reviews`, {
        commit_id: sha('gate'),
        body: 'Pick functionalities',
        event: 'COMMENT',
      })
      .reply(200, { id: 901 });
    const { client } = testClient();
    expect(
      await postGateReview(client, {
        owner: OWNER,
        repo: REPO,
        number: 21,
        commitId: sha('gate'),
        body: 'Pick functionalities',
      }),
    ).toEqual({ id: 901 });
    expect(scope.isDone()).toBe(true);
  });

  it("lists a review's inline comments, falling back to the original line", async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/21/reviews/901/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        { path: 'a.md', line: 4, original_line: 4, body: 'tighten', user: { login: 'alice' } },
        { path: 'b.md', line: null, original_line: 9, body: 'stale', user: { login: 'alice' } },
        { path: 'c.md', line: null, body: 'file', user: null },
      ]);
    const { client } = testClient();
    expect(
      await listReviewComments(client, { owner: OWNER, repo: REPO, number: 21, reviewId: 901 }),
    ).toEqual([
      { path: 'a.md', line: 4, body: 'tighten', user: 'alice' },
      { path: 'b.md', line: 9, body: 'stale', user: 'alice' },
      { path: 'c.md', line: null, body: 'file', user: '' },
    ]);
    expect(scope.isDone()).toBe(true);
  });
});
