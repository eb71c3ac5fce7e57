import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { upsertMarkedComment } from '../../src/github/comments.js';
import { api, OWNER, REPO, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const MARKER = '<!-- skill-optimizer:status -->';
const comments = `/repos/${OWNER}/${REPO}/issues/12/comments`;
const page2 = `https://api.github.com/repositories/1/issues/12/comments?per_page=100&page=2`;

function others(count: number, from: number) {
  return Array.from({ length: count }, (_, index) => ({
    id: from + index,
    body: `comment ${from + index}`,
    user: { login: 'alice' },
  }));
}

describe('upsertMarkedComment', () => {
  it('posts the comment once, then edits it in place (found on page 2)', async () => {
    const scope = api()
      .get(comments)
      .query({ per_page: 100 })
      .reply(200, others(3, 1))
      .post(comments, { body: `${MARKER}\nRunning step 1` })
      .reply(201, { id: 555, body: `${MARKER}\nRunning step 1` })
      .get(comments)
      .query({ per_page: 100 })
      .reply(200, others(100, 1), { link: `<${page2}>; rel="next", <${page2}>; rel="last"` })
      .get('/repositories/1/issues/12/comments')
      .query({ per_page: 100, page: 2 })
      .reply(200, [
        { id: 200, body: `> ${MARKER}\n> quoted`, user: { login: 'alice' } },
        { id: 555, body: `${MARKER}\nRunning step 1`, user: { login: 'skill-optimizer[bot]' } },
      ])
      .patch(`/repos/${OWNER}/${REPO}/issues/comments/555`, { body: `${MARKER}\nStep 1 done` })
      .reply(200, { id: 555 });
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, issueNumber: 12, marker: MARKER };
    expect(await upsertMarkedComment(client, { ...args, body: 'Running step 1' })).toEqual({
      id: 555,
    });
    expect(await upsertMarkedComment(client, { ...args, body: 'Step 1 done' })).toEqual({
      id: 555,
    });
    expect(scope.isDone()).toBe(true);
  });

  it('leaves an unchanged comment alone and ignores other authors using the marker', async () => {
    const scope = api()
      .get(comments)
      .query({ per_page: 100 })
      .reply(200, [
        { id: 9, body: `${MARKER}\nfake`, user: { login: 'mallory' } },
        { id: 10, body: `${MARKER}\nsame`, user: { login: 'skill-optimizer[bot]' } },
      ]);
    const { client } = testClient();
    const result = await upsertMarkedComment(client, {
      owner: OWNER,
      repo: REPO,
      issueNumber: 12,
      marker: MARKER,
      body: `${MARKER}\nsame`,
      author: 'skill-optimizer[bot]',
    });
    expect(result).toEqual({ id: 10 });
    expect(scope.isDone()).toBe(true);
  });

  it('refuses a marker that is not a hidden HTML comment, before any request', async () => {
    const { client } = testClient();
    await expect(
      upsertMarkedComment(client, {
        owner: OWNER,
        repo: REPO,
        issueNumber: 12,
        marker: 'status',
        body: 'x',
      }),
    ).rejects.toThrow(/must be one HTML comment/);
  });
});
