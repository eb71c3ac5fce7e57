import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/run.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import {
  API_KEY,
  api,
  checkout,
  jobEnv,
  makeWorld,
  pullJson,
  readOutputs,
  repoPath,
  SKILL_BRANCH,
  SKILL_PR,
  TOKEN,
  Wire,
  type World,
} from './harness.js';

const sandbox = useGitSandbox();
let world: World;

beforeAll(() => {
  world = makeWorld(sandbox.base);
});

afterEach(() => {
  nock.cleanAll();
  vi.restoreAllMocks();
});

function labeled() {
  const payload = example('pull_request', 'labeled');
  payload.label.name = 'skill-optimizer';
  payload.pull_request.state = 'open';
  payload.pull_request.number = SKILL_PR;
  payload.pull_request.head.ref = SKILL_BRANCH;
  payload.pull_request.head.sha = world.skillSha;
  payload.sender = user('octocat');
  return payload;
}

async function runJob(payload: unknown, inputs: Record<string, string>, configLines = '') {
  const workspace = checkout(world);
  appendFileSync(join(workspace, '.github', 'skill-optimizer.yml'), configLines);
  const env = jobEnv({ workspace, eventName: 'pull_request', payload, inputs });
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    const outcome = await run({ github: { retry: false, throttle: false } });
    return {
      outcome,
      outputs: readOutputs(env.files.output),
      summary: readFileSync(env.files.summary, 'utf8'),
      printed: printed.join(''),
    };
  } finally {
    vi.restoreAllMocks();
    env.restore();
    process.exitCode = undefined;
  }
}

function permission(scope: nock.Scope) {
  scope
    .get(`${repoPath}/collaborators/octocat/permission`)
    .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } });
}

describe('the Action at its edges', () => {
  it('without an Anthropic key (a fork PR gets no secrets) posts a notice and ends neutral', async () => {
    const scope = api();
    permission(scope);
    const { outputs, printed } = await runJob(labeled(), { 'github-token': TOKEN });
    expect(scope.isDone()).toBe(true);
    expect(outputs).toEqual({
      status: 'neutral',
      gate: '',
      'chain-pr': '',
      cost: '',
      'bench-matrix': '',
    });
    expect(printed).toMatch(
      /::notice::Skill Optimizer did not run: no Anthropic API key is available to this workflow run\. Pull requests from forks get no secrets/,
    );
    expect(printed).not.toContain('::error::');
    expect(git(world.origin, 'branch', '--list', 'skill-optimizer/*')).toBe('');
  });

  it('a 403 for the Actions PR setting fails with the plain fix in the check run and the summary', async () => {
    const wire = new Wire();
    const scope = api();
    permission(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}`)
      .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    scope.post(`${repoPath}/check-runs`, wire.check('check-create')).reply(201, { id: 5 });
    scope.get(`${repoPath}/pulls`).query(true).reply(200, []);
    scope.post(`${repoPath}/pulls`, wire.check('pr-create')).reply(403, {
      message: 'GitHub Actions is not permitted to create or approve pull requests.',
      documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
    });
    scope.patch(`${repoPath}/check-runs/5`, wire.check('check-done')).reply(200, { id: 5 });

    const { outputs, summary, printed } = await runJob(labeled(), {
      'github-token': TOKEN,
      'anthropic-api-key': API_KEY,
    });

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('failed');
    const fix =
      'Turn on "Allow GitHub Actions to create and approve pull requests" in the repository\'s Settings → Actions → General → Workflow permissions';
    const done = wire.last('check-done') as {
      conclusion: string;
      output: { title: string; summary: string };
    };
    expect(done.conclusion).toBe('failure');
    expect(done.output.summary).toContain(fix);
    expect(summary).toContain(fix);
    expect(printed).toContain('::error::could not open a pull request in Codertocat/Hello-World');
    expect(wire.leaks).toEqual([]);
  });

  it('with `sandbox: process` in the config, the check run and the summary say so first', async () => {
    const wire = new Wire();
    const scope = api();
    permission(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}`)
      .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    scope.post(`${repoPath}/check-runs`, wire.check('check-create')).reply(201, { id: 6 });
    scope.get(`${repoPath}/pulls`).query(true).reply(200, []);
    scope.post(`${repoPath}/pulls`, wire.check('pr-create')).reply(403, {
      message: 'GitHub Actions is not permitted to create or approve pull requests.',
    });
    scope.patch(`${repoPath}/check-runs/6`, wire.check('check-done')).reply(200, { id: 6 });

    const { summary, printed } = await runJob(
      labeled(),
      { 'github-token': TOKEN, 'anthropic-api-key': API_KEY },
      'sandbox: process\n',
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    const first = (text: string) => text.split('\n')[0];
    const warning = /^> Warning: weaker isolation\. Trials and graders run as plain processes/;
    const created = wire.last('check-create') as { output: { summary: string } };
    const done = wire.last('check-done') as { output: { summary: string } };
    expect(first(created.output.summary)).toMatch(warning);
    expect(first(done.output.summary)).toMatch(warning);
    expect(first(summary)).toMatch(warning);
    expect(printed).toContain('::warning::Warning: weaker isolation.');
  });

  it('ignores events that are not for it (an unrelated label) without calling GitHub', async () => {
    const payload = labeled();
    payload.label.name = 'bug';
    const { outputs } = await runJob(payload, {
      'github-token': TOKEN,
      'anthropic-api-key': API_KEY,
    });
    expect(outputs.status).toBe('ignored');
  });

  it('names invalid inputs and fails', async () => {
    const { outputs, printed } = await runJob(labeled(), {
      'github-token': TOKEN,
      command: 'launch',
    });
    expect(outputs.status).toBe('failed');
    expect(printed).toContain(
      "::error::invalid Action inputs: input 'command' must be one of: auto,",
    );
  });
});
