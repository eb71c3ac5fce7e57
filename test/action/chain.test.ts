import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/action/run.js';
import { parseState } from '../../src/chain/state.js';
import { loadScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { parseTrackerState, renderTracker, TRACKER_MARKER } from '../../src/routing/tracker.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import {
  API_KEY,
  api,
  checkout,
  EXAMPLE,
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
import { mockUpstreamRead } from './upstream-api.js';

const sandbox = useGitSandbox();
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';
const CHAIN_PR = 3;
const INPUTS = { 'anthropic-api-key': API_KEY, 'github-token': TOKEN };

let world: World;
let server: ScriptedServer;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

beforeAll(async () => {
  world = makeWorld(sandbox.base);
  server = await startScriptedServer({
    script: await loadScript(join(EXAMPLE, 'chain-script.yml')),
  });
  process.env.ANTHROPIC_BASE_URL = server.url;
});

afterAll(async () => {
  await server.close();
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
});

afterEach(() => {
  nock.cleanAll();
});

const remoteHead = () => git(world.origin, 'rev-parse', BRANCH);
const remoteState = (rev = BRANCH) =>
  parseState(git(world.origin, 'show', `${rev}:${RUN_DIR}/chain.yml`), 'chain.yml');

function labeledPayload() {
  const payload = example('pull_request', 'labeled');
  payload.label.name = 'skill-optimizer';
  payload.pull_request.state = 'open';
  payload.pull_request.number = SKILL_PR;
  payload.pull_request.head.ref = SKILL_BRANCH;
  payload.pull_request.head.sha = world.skillSha;
  payload.sender = user('octocat');
  return payload;
}

/** Each review GitHub sends has its own id (a repeated id is a redelivery, which does nothing). */
let reviews = 0;

function reviewPayload(state: string, commitId: string, prBody: string) {
  const payload = example('pull_request_review', 'submitted');
  reviews += 1;
  payload.review.id = 5000 + reviews;
  payload.review.state = state;
  payload.review.commit_id = commitId;
  payload.review.body = null;
  payload.pull_request.number = CHAIN_PR;
  payload.pull_request.head.ref = BRANCH;
  payload.pull_request.body = prBody;
  payload.sender = user('octocat');
  payload.review.user = payload.sender;
  return payload;
}

async function runJob(
  eventName: string,
  payload: unknown,
  inputs: Record<string, string> = INPUTS,
) {
  const workspace = checkout(world);
  const env = jobEnv({ workspace, eventName, payload, inputs });
  try {
    const outcome = await run({ github: { retry: false, throttle: false } });
    return {
      outcome,
      outputs: readOutputs(env.files.output),
      summary: readFileSync(env.files.summary, 'utf8'),
    };
  } finally {
    env.restore();
  }
}

function permission(scope: nock.Scope, login = 'octocat', role = 'admin') {
  return scope
    .get(`${repoPath}/collaborators/${login}/permission`)
    .reply(200, { permission: role, role_name: role, user: { login } });
}

/** The body of the last tracker update, as the test expects it from the branch on origin. */
function expectedTracker(results: Record<string, string>) {
  const state = remoteState();
  return renderTracker(state, {
    skillPr: SKILL_PR,
    triggeredBy: 'octocat',
    pinnedSha: state.open_gate === null ? null : remoteHead(),
    results,
    running: null,
    // The label's job records its check run for the run's next jobs.
    checkRun: { id: 77, head_sha: world.skillSha },
  });
}

describe('the Action on a skill PR', () => {
  let gateTracker = '';
  let picksTracker = '';

  it('label → steps run to the first gate → a COMMENT review with options and commands, tracker and outputs', async () => {
    const wire = new Wire();
    const scope = api();
    permission(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}`)
      .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [
        { filename: 'skills/keep-a-changelog/SKILL.md' },
        { filename: 'skills/keep-a-changelog/reference/change-types.md' },
      ]);
    scope
      .post(
        `${repoPath}/check-runs`,
        wire.check(
          'check-create',
          (b) =>
            JSON.stringify(b) ===
            JSON.stringify({
              name: 'Skill Optimizer',
              head_sha: world.skillSha,
              status: 'in_progress',
              output: { title: 'Running', summary: 'Skill Optimizer is working on #2.' },
            }),
        ),
      )
      .reply(201, { id: 77 });
    scope
      .get(`${repoPath}/pulls`)
      .query({ head: `Codertocat:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, []);
    scope
      .post(
        `${repoPath}/pulls`,
        wire.check(
          'pr-create',
          (b) =>
            b.head === BRANCH &&
            b.base === SKILL_BRANCH &&
            b.draft === true &&
            b.title === 'Skill Optimizer: keep-a-changelog (#2)' &&
            String(b.body).startsWith(TRACKER_MARKER),
        ),
      )
      .reply(201, {
        number: CHAIN_PR,
        html_url: `https://github.com/Codertocat/Hello-World/pull/${CHAIN_PR}`,
      });
    // One tracker edit per step boundary: step 1 starts, then the run stops at its gate.
    scope.patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).times(2).reply(200, {});
    scope
      .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`, wire.check('review'))
      .reply(200, { id: 501 });
    scope
      .post(
        `${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`,
        wire.check(
          'reviewers',
          (b) => JSON.stringify(b) === JSON.stringify({ reviewers: ['octocat'] }),
        ),
      )
      .reply(201, {});
    scope.patch(`${repoPath}/check-runs/77`, wire.check('check-done')).reply(200, { id: 77 });

    const { outcome, outputs, summary } = await runJob('pull_request', labeledPayload());

    expect(outcome.message).toMatch(/keep-a-changelog: gate/);
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toEqual({
      status: 'gate',
      gate: 'upstream-intent',
      'chain-pr': '3',
      cost: expect.stringMatching(/^\d+\.\d{4}$/),
      'bench-matrix': '',
    });

    // The work branch on origin: vendor, step 1, gate — by the bot.
    const log = git(world.origin, 'log', '--format=%an|%s', `${SKILL_BRANCH}..${BRANCH}`).split(
      '\n',
    );
    expect(log.map((l) => l.split('|')[1]?.replace(/ — .*/, ''))).toEqual([
      'skill-optimizer(keep-a-changelog): gate upstream-intent',
      'skill-optimizer(keep-a-changelog): 01 functionality',
      'skill-optimizer(keep-a-changelog): 00 vendor',
    ]);
    expect(new Set(log.map((l) => l.split('|')[0]))).toEqual(new Set(['github-actions[bot]']));
    expect(git(world.origin, 'merge-base', '--is-ancestor', world.skillSha, BRANCH)).toBe('');

    // The gate review: pinned to the head it asks about, with options, commands and file links.
    const head = remoteHead();
    const review = wire.last('review') as { commit_id: string; body: string; event: string };
    expect(review.event).toBe('COMMENT');
    expect(review.commit_id).toBe(head);
    expect(review.body).toContain('waiting at the `upstream-intent` gate');
    expect(review.body).toContain(
      '- **yes** (default): upstream-bound: research the upstream repository (step 2) — comment `/optimize approve`',
    );
    expect(review.body).toContain(
      '- **no**: keep the result in this repository — comment `/optimize answer no`',
    );
    expect(review.body).toContain(
      `[\`${RUN_DIR}/01-functionality.md\`](https://github.com/Codertocat/Hello-World/blob/${head}/.skill-optimizer/keep-a-changelog/01-functionality.md)`,
    );
    expect(review.body).toContain('@octocat, your decision is needed.');

    // The tracker: one edited body, the last one exactly the run's state with the pinned SHA.
    const functionality = git(world.origin, 'log', '-1', '--format=%s', `${BRANCH}~1`).replace(
      /^.* — /,
      '',
    );
    gateTracker = expectedTracker({ functionality });
    expect(wire.last('tracker')).toEqual({ body: gateTracker });
    expect(parseTrackerState(gateTracker)).toMatchObject({
      v: 1,
      slug: 'keep-a-changelog',
      skill_path: 'skills/keep-a-changelog',
      skill_pr: 2,
      open_gate: 'upstream-intent',
      pinned_sha: head,
      triggered_by: 'octocat',
    });

    const done = wire.last('check-done') as {
      status: string;
      conclusion: string;
      output: { summary: string };
    };
    expect(done).toMatchObject({ status: 'completed', conclusion: 'neutral' });
    expect(done.output.summary).toContain(
      '| `keep-a-changelog` | #3 | gate (gate `upstream-intent`) |',
    );
    expect(summary).toContain('## Skill Optimizer');
    expect(summary).toContain('#### Benches');

    expect(wire.leaks).toEqual([]);
    const everything = git(world.origin, 'log', '-p', '--all');
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain(TOKEN);
  });

  it('ignores an approval of a commit other than the pinned one, and says so', async () => {
    const wire = new Wire();
    const scope = api();
    permission(scope);
    scope.get(`${repoPath}/issues/${CHAIN_PR}/comments`).query({ per_page: 100 }).reply(200, []);
    scope
      .post(
        `${repoPath}/issues/${CHAIN_PR}/comments`,
        wire.check(
          'note',
          (b) =>
            b.body ===
            `<!-- skill-optimizer:note -->\n@octocat that approval is for ${world.skillSha.slice(0, 12)}, but the gate was asked about ${remoteHead().slice(0, 12)}. It was not counted; please approve the commit the gate review names.`,
        ),
      )
      .reply(201, { id: 9 });
    const before = remoteHead();

    const { outputs } = await runJob(
      'pull_request_review',
      reviewPayload('approved', world.skillSha, gateTracker),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('ignored');
    expect(remoteHead()).toBe(before);
    expect(wire.leaks).toEqual([]);
  });

  it('an approval of the pinned SHA answers the gate with its default and resumes the chain', async () => {
    const wire = new Wire();
    const scope = api();
    const pinned = remoteHead();
    permission(scope);
    // Neither the skill PR nor a new check run is asked for: the tracker names both.
    // Step 2 reads the upstream repository (the skill PR's base repository) through the API.
    mockUpstreamRead(scope, { owner: 'Codertocat', repo: 'Hello-World', defaultBranch: 'master' });
    // Step 2 starts (one edit); the boundaries after it within a minute wait for the final edit.
    scope.patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).times(2).reply(200, {});
    scope
      .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`, wire.check('review'))
      .reply(200, { id: 502 });
    scope
      .post(
        `${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`,
        wire.check(
          'reviewers',
          (b) => JSON.stringify(b) === JSON.stringify({ reviewers: ['octocat'] }),
        ),
      )
      .reply(201, {});
    scope.patch(`${repoPath}/check-runs/77`, wire.check('check-done')).reply(200, { id: 77 });

    const { outputs } = await runJob(
      'pull_request_review',
      reviewPayload('approved', pinned, gateTracker),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    const state = remoteState();
    expect(state.decisions[0]).toMatchObject({
      gate: 'upstream-intent',
      answer: 'yes',
      by: 'octocat',
    });
    expect(git(world.origin, 'merge-base', '--is-ancestor', pinned, BRANCH)).toBe('');
    expect(remoteHead()).not.toBe(pinned);
    // Steps 2 and 3 ran; the chain now waits at the picks gate, asked about the new head.
    expect(
      git(world.origin, 'log', '--format=%s', `${pinned}..${BRANCH}`)
        .split('\n')
        .map((l) => l.replace(/ — .*/, '')),
    ).toEqual([
      'skill-optimizer(keep-a-changelog): gate picks',
      'skill-optimizer(keep-a-changelog): 03 design-tests',
      'skill-optimizer(keep-a-changelog): 02 submissions',
      'skill-optimizer(keep-a-changelog): gate upstream-intent',
    ]);
    expect(outputs).toMatchObject({ status: 'gate', gate: 'picks', 'chain-pr': '3' });
    const review = wire.last('review') as { commit_id: string; body: string };
    expect(review.commit_id).toBe(remoteHead());
    expect(review.body).toContain(
      '- **pick your own**: comment `/optimize pick <f1,f2|all|top N>`',
    );
    expect(parseTrackerState(String(wire.last('tracker')?.body))).toMatchObject({
      open_gate: 'picks',
      pinned_sha: remoteHead(),
      triggered_by: 'octocat',
    });
    expect(wire.last('check-done')).toMatchObject({
      name: 'Skill Optimizer',
      status: 'completed',
      conclusion: 'neutral',
    });
    expect(parseTrackerState(String(wire.last('tracker')?.body))?.check_run).toEqual({
      id: 77,
      head_sha: world.skillSha,
    });
    expect(wire.leaks).toEqual([]);
    picksTracker = String(wire.last('tracker')?.body);
  });

  it('request changes turns each review comment into a directive and re-runs the gated step', async () => {
    const wire = new Wire();
    const scope = api();
    const pinned = remoteHead();
    const payload = reviewPayload('changes_requested', pinned, picksTracker);
    payload.review.id = 777;
    payload.review.body = 'Probes should cover yanked releases.';
    permission(scope);
    scope
      .get(`${repoPath}/pulls/${CHAIN_PR}/reviews/777/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        {
          path: `${RUN_DIR}/03-test-proposals.md`,
          line: 12,
          original_line: 12,
          body: 'Add a probe where the version was yanked.',
          user: { login: 'octocat' },
        },
      ]);
    scope.patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).times(2).reply(200, {});
    scope
      .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`, wire.check('review'))
      .reply(200, { id: 503 });
    scope
      .post(`${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`, wire.check('reviewers'))
      .reply(201, {});
    scope.patch(`${repoPath}/check-runs/77`, wire.check('check-done')).reply(200, { id: 77 });
    const seen = server.requests.length;

    const { outputs } = await runJob('pull_request_review', payload);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(
      git(world.origin, 'log', '--format=%s', `${pinned}..${BRANCH}`)
        .split('\n')
        .map((l) => l.replace(/ — .*/, '')),
    ).toEqual([
      'skill-optimizer(keep-a-changelog): gate picks',
      'skill-optimizer(keep-a-changelog): 03 design-tests',
      'skill-optimizer(keep-a-changelog): rerun design-tests',
    ]);
    const queued = parseState(
      git(world.origin, 'show', `${BRANCH}~2:${RUN_DIR}/chain.yml`),
      'chain.yml',
    );
    expect(queued.directives['design-tests']).toEqual([
      'Probes should cover yanked releases.',
      `${RUN_DIR}/03-test-proposals.md:12: Add a probe where the version was yanked.`,
    ]);
    expect(queued.decisions.at(-1)).toMatchObject({
      gate: 'picks',
      answer: 'rerun design-tests',
      by: 'octocat',
    });
    expect(remoteState().directives['design-tests']).toEqual([]);
    const asked = JSON.stringify(server.requests.slice(seen).map((r) => r.body));
    expect(asked).toContain('03-test-proposals.md:12: Add a probe where the version was yanked.');
    expect(outputs).toMatchObject({ status: 'gate', gate: 'picks' });
    expect((wire.last('review') as { commit_id: string }).commit_id).toBe(remoteHead());
    expect(wire.leaks).toEqual([]);
  });
});
