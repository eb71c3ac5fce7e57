import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunOptions, run } from '../../src/action/run.js';
import { initialState, stateChange } from '../../src/chain/state.js';
import { renderTracker } from '../../src/routing/tracker.js';
import { comment, dispatched, user } from '../routing/webhook-examples.js';
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

/**
 * A comment redelivered after the App restarted (its memory of deliveries is gone, so it
 * dispatches again): the job finds the comment in the run's own record on the work branch and
 * does nothing — no check run, no commit, no reply.
 */

const sandbox = useGitSandbox();
let world: World;
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';
const CHAIN_PR = 3;
const COMMENT_ID = 901;

/** A run that is waiting (no gate), on its work branch on origin, with chain PR #3. */
beforeAll(() => {
  world = makeWorld(sandbox.base);
  const seed = join(world.base, 'seed');
  git(seed, 'switch', '--quiet', '-c', BRANCH, SKILL_BRANCH);
  const state = stateChange(
    initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: world.skillSha,
      autopilot: false,
    }),
  );
  mkdirSync(join(seed, RUN_DIR), { recursive: true });
  writeFileSync(join(seed, RUN_DIR, state.path), String('content' in state ? state.content : ''));
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'skill-optimizer(keep-a-changelog): 00 vendor');
  git(seed, 'push', '--quiet', world.origin, BRANCH);
});

afterEach(() => {
  nock.cleanAll();
  vi.restoreAllMocks();
});

function chainPull() {
  const body = renderTracker(
    initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: world.skillSha,
      autopilot: false,
    }),
    { skillPr: SKILL_PR, triggeredBy: 'octocat', pinnedSha: null, results: {}, running: null },
  );
  return { ...pullJson({ number: CHAIN_PR, headRef: BRANCH, headSha: branchHead(), body }) };
}

function branchHead(): string {
  return git(world.origin, 'rev-parse', BRANCH);
}

async function runJob(eventName: string, payload: unknown, options: RunOptions = {}) {
  const workspace = checkout(world);
  const env = jobEnv({
    workspace,
    eventName,
    payload,
    inputs: { 'github-token': TOKEN, 'anthropic-api-key': API_KEY },
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await run({ github: { retry: false, throttle: false }, ...options });
    return readOutputs(env.files.output);
  } finally {
    vi.restoreAllMocks();
    env.restore();
    process.exitCode = undefined;
  }
}

/** The chain PR as GitHub shows it: all a job needs to find the run (the skill PR's head is git's). */
function pulls(scope: nock.Scope): nock.Scope {
  return scope.get(`${repoPath}/pulls/${CHAIN_PR}`).reply(200, chainPull());
}

describe('duplicate deliveries', () => {
  it('a comment acted on once does nothing when it arrives again after an App restart', async () => {
    // First delivery, through the event: the run stops, and the stop commit records the comment.
    const wire = new Wire();
    const first = api();
    first
      .get(`${repoPath}/collaborators/octocat/permission`)
      .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } });
    pulls(first);
    first.post(`${repoPath}/check-runs`, wire.check('check-create')).reply(201, { id: 5 });
    first.patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).reply(200, {}).persist();
    first.patch(`${repoPath}/check-runs/5`, wire.check('check-done')).reply(200, { id: 5 });
    const stop = comment('/optimize stop', { id: COMMENT_ID });
    stop.issue.number = CHAIN_PR;
    const before = branchHead();

    expect((await runJob('issue_comment', stop)).status).toBe('stopped');
    const stopped = branchHead();
    expect(git(world.origin, 'rev-list', '--count', `${before}..${stopped}`)).toBe('1');
    expect(git(world.origin, 'show', `${stopped}:${RUN_DIR}/answered.txt`)).toBe(
      `comment ${COMMENT_ID}`,
    );
    expect(git(world.origin, 'log', '-1', '--format=%s', stopped)).toMatch(
      /: report — stopped by octocat$/,
    );
    nock.cleanAll();

    // The restarted App dispatches the same comment again: GitHub is only read, nothing written.
    const again = pulls(api());
    const redispatched = dispatched({
      pr: String(CHAIN_PR),
      command: '/optimize stop',
      actor: 'octocat',
      comment_id: String(COMMENT_ID),
    });
    redispatched.sender = user('skill-optimizer[bot]', 'Bot');

    const outputs = await runJob('workflow_dispatch', redispatched);

    expect(again.isDone(), `pending: ${again.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('ignored');
    expect(branchHead()).toBe(stopped);
  });

  it('another comment with the same command is acted on: only the same id is a duplicate', async () => {
    const scope = pulls(api());
    scope.post(`${repoPath}/check-runs`).reply(201, { id: 6 });
    scope.patch(`${repoPath}/pulls/${CHAIN_PR}`).reply(200, {}).persist();
    scope.patch(`${repoPath}/check-runs/6`).reply(200, { id: 6 });
    const other = dispatched({
      pr: String(CHAIN_PR),
      command: '/optimize stop',
      actor: 'octocat',
      comment_id: String(COMMENT_ID + 1),
    });
    other.sender = user('skill-optimizer[bot]', 'Bot');
    const before = branchHead();

    const outputs = await runJob('workflow_dispatch', other);

    expect(outputs.status).toBe('stopped');
    // Already stopped, so nothing to commit: the record waits for the run's next commit.
    expect(branchHead()).toBe(before);
  });
});
