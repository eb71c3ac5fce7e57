import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckRun } from '../../src/github/checks.js';
import {
  GitHubNotFoundError,
  GitHubPermissionError,
  GitHubUnavailableError,
  mapGitHubError,
} from '../../src/github/errors.js';
import { createPullRequest, getPullRequest } from '../../src/github/pulls.js';
import { dispatchWorkflow } from '../../src/github/repos.js';
import { api, failure, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const PR_ARGS = {
  owner: OWNER,
  repo: REPO,
  head: 'skill-optimizer/demo',
  base: 'main',
  title: 'Skill Optimizer: demo',
  body: 'tracker',
};

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected the call to fail');
  return error;
}

describe('403 on pull request creation', () => {
  it('names the repository setting that lets Actions open pull requests', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/pulls`, {
        head: 'skill-optimizer/demo',
        base: 'main',
        title: 'Skill Optimizer: demo',
        body: 'tracker',
        draft: true,
      })
      .reply(
        403,
        failure('GitHub Actions is not permitted to create or approve pull requests.', 403),
      );
    const { client } = testClient();
    const error = await failureOf(createPullRequest(client, PR_ARGS));
    expect(error).toBeInstanceOf(GitHubPermissionError);
    expect(error.message).toBe(
      'could not open a pull request in acme/skills: GitHub Actions is not allowed to create pull requests there. ' +
        'Turn on "Allow GitHub Actions to create and approve pull requests" in the repository\'s Settings → Actions → General → Workflow permissions ' +
        "(if it is greyed out, an organization owner must allow it first in the organization's Settings → Actions → General), then run the workflow again.",
    );
    expect(error.message).not.toMatch(/\n\s+at /);
    expect(scope.isDone()).toBe(true);
  });

  it('names the missing permissions: entry when the token cannot write pull requests', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/pulls`)
      .reply(403, failure('Resource not accessible by integration', 403));
    const { client } = testClient();
    const error = await failureOf(createPullRequest(client, PR_ARGS));
    expect(error).toBeInstanceOf(GitHubPermissionError);
    expect(error.message).toBe(
      'could not open a pull request in acme/skills: the token lacks the `pull-requests: write` permission (GitHub said: Resource not accessible by integration). ' +
        'Add `pull-requests: write` under `permissions:` in the workflow (or grant it to the GitHub App and accept the new permissions), then run it again.',
    );
    expect(scope.isDone()).toBe(true);
  });
});

describe('403 "Resource not accessible by integration" names the permission of the call', () => {
  it('checks: write for a check run', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/check-runs`, { name: 'Skill Optimizer', head_sha: sha('h') })
      .reply(403, failure('Resource not accessible by integration', 403));
    const { client } = testClient();
    const error = await failureOf(
      createCheckRun(client, {
        owner: OWNER,
        repo: REPO,
        name: 'Skill Optimizer',
        headSha: sha('h'),
      }),
    );
    expect(error.message).toContain(
      "could not create the check run 'Skill Optimizer' in acme/skills",
    );
    expect(error.message).toContain('Add `checks: write` under `permissions:`');
    expect(scope.isDone()).toBe(true);
  });

  it('actions: write for a workflow dispatch', async () => {
    const scope = api()
      .post(`/repos/${OWNER}/${REPO}/actions/workflows/skill-optimizer.yml/dispatches`, {
        ref: 'main',
        inputs: { skill: 'skills/demo' },
      })
      .reply(403, failure('Resource not accessible by integration', 403));
    const { client } = testClient();
    const error = await failureOf(
      dispatchWorkflow(client, {
        owner: OWNER,
        repo: REPO,
        workflowId: 'skill-optimizer.yml',
        ref: 'main',
        inputs: { skill: 'skills/demo' },
      }),
    );
    expect(error).toBeInstanceOf(GitHubPermissionError);
    expect(error.message).toContain('the token lacks the `actions: write` permission');
    expect(scope.isDone()).toBe(true);
  });
});

describe('other statuses', () => {
  it('404 says not found or no access', async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/9`)
      .reply(404, failure('Not Found', 404));
    const { client } = testClient();
    const error = await failureOf(getPullRequest(client, { owner: OWNER, repo: REPO, number: 9 }));
    expect(error).toBeInstanceOf(GitHubNotFoundError);
    expect(error.message).toBe(
      'could not read pull request #9 in acme/skills: not found or no access (404). Check that it exists and that the token can see acme/skills (GitHub answers 404 for private resources the token has no access to).',
    );
    expect(scope.isDone()).toBe(true);
  });

  it('a 5xx is GitHubUnavailableError with the retry command', async () => {
    const scope = api().get(`/repos/${OWNER}/${REPO}/pulls/9`).reply(503, 'upstream down');
    const { client } = testClient({ retryCommand: 'gh workflow run skill-optimizer.yml' });
    const error = await failureOf(getPullRequest(client, { owner: OWNER, repo: REPO, number: 9 }));
    expect(error).toBeInstanceOf(GitHubUnavailableError);
    expect(error.message).toBe(
      'could not read pull request #9 in acme/skills: GitHub is unavailable (503) even after retrying; try again: gh workflow run skill-optimizer.yml',
    );
    expect((error as GitHubUnavailableError).retry).toBe('gh workflow run skill-optimizer.yml');
    expect(scope.isDone()).toBe(true);
  });

  it('keeps a short, scrubbed detail of the request as the cause', async () => {
    const scope = api()
      .get(`/repos/${OWNER}/${REPO}/pulls/9`)
      .reply(
        422,
        { message: 'Validation Failed', errors: [{ field: 'head', code: 'invalid' }] },
        {
          'x-github-request-id': 'ABCD:1234',
        },
      );
    const { client } = testClient();
    const error = await failureOf(getPullRequest(client, { owner: OWNER, repo: REPO, number: 9 }));
    expect(error.message).toBe(
      'could not read pull request #9 in acme/skills: GitHub answered 422: Validation Failed (head invalid)',
    );
    expect(error.cause).toEqual({
      status: 422,
      request: 'GET https://api.github.com/repos/acme/skills/pulls/9',
      githubMessage: 'Validation Failed (head invalid)',
      requestId: 'ABCD:1234',
    });
    expect(scope.isDone()).toBe(true);
  });

  it('passes errors that are not HTTP failures through unchanged', () => {
    const error = new TypeError('boom');
    const call = { action: 'x', owner: OWNER, repo: REPO, permission: 'contents: read' };
    expect(mapGitHubError(error, call, { retryCommand: '/optimize', redact: (t) => t })).toBe(
      error,
    );
  });
});
