import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckRun, updateCheckRun } from '../../src/github/checks.js';
import { api, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

describe('check runs', () => {
  it('creates one in progress and completes it, cutting an over-long summary', async () => {
    const long = 'x'.repeat(70_000);
    let sentSummary = '';
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/check-runs`, {
        name: 'Skill Optimizer',
        head_sha: sha('head'),
        status: 'in_progress',
        details_url: 'https://github.com/acme/skills/pull/21',
        output: { title: 'Step 3', summary: 'running' },
      })
      .reply(201, { id: 77 })
      .patch(`/repos/${OWNER}/${REPO}/check-runs/77`, (body) => {
        sentSummary = body.output.summary;
        return (
          body.status === 'completed' &&
          body.conclusion === 'success' &&
          body.output.title === 'Done' &&
          Object.keys(body).length === 3
        );
      })
      .reply(200, { id: 77 });
    const { client } = testClient();
    const repo = { owner: OWNER, repo: REPO };
    const { id } = await createCheckRun(client, {
      ...repo,
      name: 'Skill Optimizer',
      headSha: sha('head'),
      status: 'in_progress',
      detailsUrl: 'https://github.com/acme/skills/pull/21',
      output: { title: 'Step 3', summary: 'running' },
    });
    expect(id).toBe(77);
    await updateCheckRun(client, {
      ...repo,
      checkRunId: id,
      status: 'completed',
      conclusion: 'success',
      output: { title: 'Done', summary: long },
    });
    expect(sentSummary).toHaveLength(65_535);
    expect(sentSummary.endsWith('(cut: GitHub keeps at most 65535 characters here)')).toBe(true);
    expect(scope.isDone()).toBe(true);
  });
});
