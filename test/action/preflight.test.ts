import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/run.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import {
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
  type World,
} from './harness.js';

/** The Action checks the model key before it writes anything for a run. */

const sandbox = useGitSandbox();
let world: World;
const BAD_KEY = 'sk-ant-revoked-KEY-0a1b2c3d4e5f';

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

describe('the Action preflight', () => {
  it('a key the API rejects fails the job before a check run, branch, commit or chain PR', async () => {
    const scope = api();
    scope
      .get(`${repoPath}/collaborators/octocat/permission`)
      .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } });
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}`)
      .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    const anthropic = nock('https://api.anthropic.com')
      .post('/v1/messages/count_tokens')
      .reply(401, {
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid x-api-key' },
      });

    const workspace = checkout(world);
    const env = jobEnv({
      workspace,
      eventName: 'pull_request',
      payload: labeled(),
      inputs: { 'github-token': TOKEN, 'anthropic-api-key': BAD_KEY },
    });
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    let outputs: Record<string, string>;
    let summary: string;
    try {
      await run({ github: { retry: false, throttle: false } });
      outputs = readOutputs(env.files.output);
      summary = readFileSync(env.files.summary, 'utf8');
    } finally {
      vi.restoreAllMocks();
      env.restore();
      process.exitCode = undefined;
    }

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(anthropic.isDone()).toBe(true);
    expect(outputs.status).toBe('failed');
    expect(summary).toContain('## Skill Optimizer did not start');
    expect(summary).toContain(
      '- model: the model API at api.anthropic.com rejected the API key (401): invalid x-api-key; check ANTHROPIC_API_KEY',
    );
    expect(printed.join('')).toContain('::error::Skill Optimizer did not start: model:');
    // `::add-mask::` is how the runner learns the secret; nothing else may carry it.
    const shown = printed.join('').replace(/^::add-mask::.*$/gm, '');
    expect(shown + summary).not.toContain(BAD_KEY);
    expect(git(world.origin, 'branch', '--list', 'skill-optimizer/*')).toBe('');
  });
});
