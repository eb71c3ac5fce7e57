import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckRun, updateCheckRun } from '../../src/github/checks.js';
import { fromOctokit } from '../../src/github/client.js';
import { upsertMarkedComment } from '../../src/github/comments.js';
import { commitFiles } from '../../src/github/git-data.js';
import { createPullRequest, updatePullRequestBody } from '../../src/github/pulls.js';
import { postGateReview } from '../../src/github/reviews.js';
import { REDACTED, registerSecret } from '../../src/text/redact.js';
import { api, OWNER, REPO, sha, TOKEN, testClient } from './fixture.js';

/**
 * Every GitHub write the bot makes, fed text that carries secrets: nock matches only the exact
 * redacted bodies, so a secret reaching the wire fails the request and the test.
 */

afterEach(() => {
  nock.cleanAll();
});

// Fake credentials in model-shaped text, built in pieces so no scanner flags this file.
const ANTHROPIC = `sk-ant-api03-${'Fake0Key_'.repeat(10)}AA`;
const GITHUB = `ghp_${'0123456789'.repeat(3)}abcdef`;
const REGISTERED = 'a-registered-secret-value-42';
const dirty = (label: string) =>
  `${label}: key ${ANTHROPIC}, token ${GITHUB}, masked ${REGISTERED}, own ${TOKEN}`;
const clean = (label: string, own = REDACTED) =>
  `${label}: key ${REDACTED}, token ${REDACTED}, masked ${REDACTED}, own ${own}`;

const base = `/repos/${OWNER}/${REPO}`;
registerSecret(REGISTERED);

describe('every body the GitHub calls send is redacted', () => {
  it('comments, reviews, pull request bodies and check runs', async () => {
    const marker = '<!-- skill-optimizer:test -->';
    const scope = api()
      .get(`${base}/issues/7/comments`)
      .query({ per_page: 100 })
      .reply(200, [])
      .post(`${base}/issues/7/comments`, { body: `${marker}\n${clean('comment')}` })
      .reply(201, { id: 1 })
      .post(`${base}/pulls/7/reviews`, {
        commit_id: sha('head'),
        body: clean('review'),
        event: 'COMMENT',
      })
      .reply(200, { id: 2 })
      .patch(`${base}/pulls/7`, { body: clean('tracker') })
      .reply(200, {})
      .post(`${base}/pulls`, {
        title: clean('title'),
        head: 'work',
        base: 'main',
        body: clean('body'),
        draft: true,
      })
      .reply(201, { number: 8, html_url: 'https://github.com/acme/skills/pull/8' })
      .post(`${base}/check-runs`, {
        name: 'Skill Optimizer',
        head_sha: sha('head'),
        status: 'in_progress',
        output: { title: clean('check'), summary: clean('summary') },
      })
      .reply(201, { id: 3 })
      .patch(`${base}/check-runs/3`, {
        status: 'completed',
        conclusion: 'failure',
        output: { title: 'Failed', summary: clean('done'), text: clean('text') },
      })
      .reply(200, { id: 3 });
    const { client } = testClient();
    const at = { owner: OWNER, repo: REPO };

    await upsertMarkedComment(client, { ...at, issueNumber: 7, marker, body: dirty('comment') });
    await postGateReview(client, {
      ...at,
      number: 7,
      commitId: sha('head'),
      body: dirty('review'),
    });
    await updatePullRequestBody(client, { ...at, number: 7, body: dirty('tracker') });
    await createPullRequest(client, {
      ...at,
      head: 'work',
      base: 'main',
      title: dirty('title'),
      body: dirty('body'),
      draft: true,
    });
    await createCheckRun(client, {
      ...at,
      name: 'Skill Optimizer',
      headSha: sha('head'),
      status: 'in_progress',
      output: { title: dirty('check'), summary: dirty('summary') },
    });
    await updateCheckRun(client, {
      ...at,
      checkRunId: 3,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'Failed', summary: dirty('done'), text: dirty('text') },
    });
    expect(scope.isDone(), scope.pendingMocks().join(', ')).toBe(true);
  });

  it('commits: the message, inline text and base64 blobs', async () => {
    const ROOT = sha('root');
    const binary = Buffer.concat([Buffer.from([0, 0xff]), Buffer.from(dirty('bytes'))]);
    const redactedBinary = Buffer.concat([Buffer.from([0, 0xff]), Buffer.from(clean('bytes'))]);
    const results = `${JSON.stringify({ probe: 'p', transcript: dirty('transcript') })}\n`;
    const scope = api()
      .get(`${base}/git/ref/heads%2Fwork`)
      .reply(200, { object: { sha: sha('parent') } })
      .get(`${base}/git/trees/${sha('parent')}`)
      .reply(200, { sha: ROOT, truncated: false, tree: [] })
      .post(`${base}/git/blobs`, {
        content: redactedBinary.toString('base64'),
        encoding: 'base64',
      })
      .reply(201, { sha: sha('blob') })
      .post(`${base}/git/trees`, {
        base_tree: ROOT,
        tree: [
          { path: 'run/logo.bin', mode: '100644', type: 'blob', sha: sha('blob') },
          {
            path: 'run/results.jsonl',
            mode: '100644',
            type: 'blob',
            content: `${JSON.stringify({ probe: 'p', transcript: clean('transcript') })}\n`,
          },
        ],
      })
      .reply(201, { sha: sha('tree') })
      .post(`${base}/git/commits`, {
        message: clean('skill-optimizer(demo): 05 bench'),
        tree: sha('tree'),
        parents: [sha('parent')],
      })
      .reply(201, { sha: sha('commit') })
      .patch(`${base}/git/refs/heads%2Fwork`, { sha: sha('commit'), force: false })
      .reply(200, {});
    const { client } = testClient();
    await commitFiles(client, {
      owner: OWNER,
      repo: REPO,
      branch: 'work',
      expectedParent: sha('parent'),
      message: dirty('skill-optimizer(demo): 05 bench'),
      changes: [
        { path: 'run/results.jsonl', content: results },
        { path: 'run/logo.bin', content: binary },
      ],
    });
    expect(scope.isDone(), scope.pendingMocks().join(', ')).toBe(true);
  });

  it('an Octokit built elsewhere (probot context.octokit) is redacted too', async () => {
    const scope = api()
      .patch(`${base}/pulls/9`, { body: clean('app') })
      .reply(200, {});
    const probotLike = new Octokit({ auth: 'ghs_installationTokenNotRegistered0' });
    const client = fromOctokit(probotLike);
    await updatePullRequestBody(client, {
      owner: OWNER,
      repo: REPO,
      number: 9,
      body: dirty('app'),
    });
    expect(scope.isDone(), scope.pendingMocks().join(', ')).toBe(true);
  });
});
