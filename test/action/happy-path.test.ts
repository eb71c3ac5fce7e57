import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/action/run.js';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { submissionsFrontmatter } from '../../src/chain/reports.js';
import { parseState } from '../../src/chain/state.js';
import { loadScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { parseTrackerState } from '../../src/routing/tracker.js';
import { escapeMarkdown } from '../../src/text/escape-markdown.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import {
  API_KEY,
  api,
  checkout,
  EXAMPLE,
  jobEnv,
  makeWorld,
  OWNER,
  pullJson,
  REPO,
  readOutputs,
  repoPath,
  SKILL_BRANCH,
  SKILL_PR,
  TOKEN,
  Wire,
  type World,
} from './harness.js';
import { RequestLog } from './request-log.js';
import { mockUpstreamRead } from './upstream-api.js';

/**
 * The whole chain through the Action, as a maintainer drives it: label the skill PR, approve each
 * gate review at its pinned commit, and the finished run publishes its improvement as a draft PR
 * to the upstream repository the skill names (through a fork). The first attempt to open that PR
 * meets a GitHub 5xx; the tracker says how to retry, and `/optimize` finishes the publication
 * without duplicating the branch's commit. Every GitHub request is mocked with nock, counted by
 * endpoint, and checked for secrets.
 */

const sandbox = useGitSandbox();
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';
const CHAIN_PR = 3;
const INPUTS = { 'anthropic-api-key': API_KEY, 'github-token': TOKEN };
const UPSTREAM = { owner: 'keepachangelog', repo: 'agent-skills' };
const UP = `/repos/${UPSTREAM.owner}/${UPSTREAM.repo}`;
const FORK_OWNER = 'skill-bot';
const FORK = `/repos/${FORK_OWNER}/${UPSTREAM.repo}`;
const PUBLISH = 'skill-optimizer/publish/2-keep-a-changelog';
const SOURCE_URL = `https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/tree/main/skills/keep-a-changelog`;
const ref = (branch: string) => encodeURIComponent(`heads/${branch}`);
const sha = (label: string) => Buffer.from(label).toString('hex').padEnd(40, '0').slice(0, 40);
const UPSTREAM_MAIN = sha('upstream-main');
const PUBLISHED = sha('published-commit');
const TRACKER = `${repoPath}/pulls/${CHAIN_PR}`;

/**
 * Every request of both runs, by job (`gated:…`, `autopilot:…`) and endpoint. Printed after the
 * file; with SKILL_OPTIMIZER_REQUEST_LOG set, also written there as JSON for a benchmark.
 */
const requests = new RequestLog();

/**
 * GitHub REST requests a run may make: autopilot from the label to a published draft PR, and the
 * gated run with its four gates to its publication (it makes 51 today; the README's "How many
 * GitHub requests a run makes" says where they go).
 */
const AUTOPILOT_BUDGET = 45;
const GATED_BUDGET = 60;

/** `npm run bench` reads the request counts from here (one JSON line per run) when it is set. */
function reportCount(run: string, requests: number, budget: number): void {
  const out = process.env.REQUEST_BUDGET_OUT;
  if (out !== undefined && out !== '') {
    appendFileSync(out, `${JSON.stringify({ run, requests, budget })}\n`);
  }
}
const TRACKER_EDIT = 'PATCH /repos/{owner}/{repo}/pulls/{n}';
const PULL_READ = 'GET /repos/{owner}/{repo}/pulls/{n}';
const CHECK_CREATE = 'POST /repos/{owner}/{repo}/check-runs';

let world: World;
let server: ScriptedServer;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

/** The harness's world with a SKILL.md naming its upstream repository (step 2 reads it). */
const makeSourcedWorld = (base: string) => makeWorld(base, { repository: SOURCE_URL });

/** A fresh world and scripted model per run (the script counts calls across a server's life). */
function useRun(name: string) {
  beforeAll(async () => {
    world = makeSourcedWorld(join(sandbox.base, name));
    server = await startScriptedServer({
      script: await loadScript(join(EXAMPLE, 'chain-script.yml')),
    });
    process.env.ANTHROPIC_BASE_URL = server.url;
  });
  afterAll(async () => {
    await server.close();
  });
}

afterAll(() => {
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
  const gated = requests.labelled('gated:');
  const autopilot = requests.labelled('autopilot:');
  console.log(
    gated.render('gated run (label, 4 gates approved by review, publish fails once, retried)'),
  );
  console.log(autopilot.render('autopilot run (one job: label to published draft PR)'));
  const out = process.env.SKILL_OPTIMIZER_REQUEST_LOG;
  if (out) {
    writeFileSync(
      out,
      `${JSON.stringify({ gated: gated.summary(), autopilot: autopilot.summary() }, null, 2)}\n`,
    );
  }
});

afterEach(() => {
  nock.cleanAll();
});

const remoteHead = () => git(world.origin, 'rev-parse', BRANCH);
const remoteState = () =>
  parseState(git(world.origin, 'show', `${BRANCH}:${RUN_DIR}/chain.yml`), 'chain.yml');

async function runJob(eventName: string, payload: unknown) {
  const workspace = checkout(world);
  const env = jobEnv({ workspace, eventName, payload, inputs: INPUTS });
  try {
    const outcome = await run({
      github: { retry: false, throttle: false },
      publish: { sleep: async () => {} },
    });
    return { outcome, outputs: readOutputs(env.files.output) };
  } finally {
    env.restore();
  }
}

/** A scope for one job: counted, every body checked for secrets. */
function jobScope(job: string, wire: Wire) {
  const scope = requests.attach(api(), job);
  scope.on('request', (_req: unknown, _i: unknown, body: string) => {
    for (const secret of [API_KEY, TOKEN]) if (body?.includes(secret)) wire.leaks.push(job);
  });
  return scope;
}

function permission(scope: nock.Scope) {
  scope
    .get(`${repoPath}/collaborators/octocat/permission`)
    .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } });
}

function skillPull(scope: nock.Scope) {
  scope
    .get(`${repoPath}/pulls/${SKILL_PR}`)
    .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
}

/**
 * Check run created and completed; the tracker edited as often as the run needs (a persisted
 * interceptor of its own, so the job's scope can still be asserted done).
 */
function progress(scope: nock.Scope, wire: Wire, checkId: number, job: string) {
  scope.post(`${repoPath}/check-runs`, wire.check('check-create')).reply(201, { id: checkId });
  trackerEdits(scope, wire, checkId, job);
}

/**
 * A later job of the run, the skill PR's head unchanged: the check run the tracker state names is
 * completed again under its name, none is created.
 */
function reusedProgress(scope: nock.Scope, wire: Wire, checkId: number, job: string) {
  trackerEdits(scope, wire, checkId, job, (b) => b.name === 'Skill Optimizer');
}

function trackerEdits(
  scope: nock.Scope,
  wire: Wire,
  checkId: number,
  job: string,
  done: (b: Record<string, unknown>) => boolean = () => true,
) {
  scope
    .patch(`${repoPath}/check-runs/${checkId}`, wire.check('check-done', done))
    .reply(200, { id: checkId });
  requests
    .attach(api().persist(), job)
    .patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker'))
    .reply(200, {});
}

function gateReview(scope: nock.Scope, wire: Wire) {
  scope
    .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`, wire.check('review'))
    .reply(200, { id: 500 })
    .post(
      `${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`,
      wire.check('reviewers', (b) => JSON.stringify(b) === '{"reviewers":["octocat"]}'),
    )
    .reply(201, {});
}

/** Each review GitHub sends has its own id (a repeated id is a redelivery, which does nothing). */
let reviews = 0;

function approval(commitId: string, prBody: string) {
  const payload = example('pull_request_review', 'submitted');
  reviews += 1;
  payload.review.id = 5000 + reviews;
  payload.review.state = 'approved';
  payload.review.commit_id = commitId;
  payload.review.body = null;
  payload.pull_request.number = CHAIN_PR;
  payload.pull_request.head.ref = BRANCH;
  payload.pull_request.body = prBody;
  payload.sender = user('octocat');
  payload.review.user = payload.sender;
  return payload;
}

/** Expected tree entries: improved-skill/ of the work branch at the upstream path. */
function improvedTree(): Array<Record<string, unknown>> {
  const files = git(
    world.origin,
    'ls-tree',
    '-r',
    '--name-only',
    BRANCH,
    '--',
    `${RUN_DIR}/improved-skill`,
  ).split('\n');
  return files
    .map((path) => ({
      path: `skills/keep-a-changelog/${path.slice(`${RUN_DIR}/improved-skill/`.length)}`,
      mode: '100644',
      type: 'blob',
      content: `${git(world.origin, 'show', `${BRANCH}:${path}`)}\n`,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The fork's git data, as commitFiles reads it (not the branch again: the publisher has just read
 * or created it): upstream main holds another skill only.
 */
function mockForkGitData(scope: nock.Scope, parent: string, rootTree: string) {
  scope
    .get(`${FORK}/git/trees/${parent}`)
    .reply(200, {
      sha: rootTree,
      truncated: false,
      tree: [{ path: 'skills', mode: '040000', type: 'tree', sha: sha(`skills-${rootTree}`) }],
    })
    .get(`${FORK}/git/trees/${sha(`skills-${rootTree}`)}`)
    .reply(200, {
      truncated: false,
      tree: [{ path: 'release-notes', mode: '040000', type: 'tree', sha: sha('release-notes') }],
    });
}

describe('the happy path: label → gates approved → the chain finishes → a draft PR upstream', () => {
  useRun('gated');
  const trackers: string[] = [];

  it('label: steps to the first gate, chain PR opened as a draft', async () => {
    const wire = new Wire();
    const JOB = 'gated:1 label';
    const scope = jobScope(JOB, wire);
    permission(scope);
    skillPull(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    scope
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [])
      .post(
        `${repoPath}/pulls`,
        wire.check('chain-pr', (b) => b.draft === true),
      )
      .reply(201, { number: CHAIN_PR, html_url: `https://github.com/${OWNER}/${REPO}/pull/3` });
    progress(scope, wire, 71, JOB);
    gateReview(scope, wire);
    const payload = example('pull_request', 'labeled');
    payload.label.name = 'skill-optimizer';
    payload.pull_request.state = 'open';
    payload.pull_request.number = SKILL_PR;
    payload.pull_request.head.ref = SKILL_BRANCH;
    payload.pull_request.head.sha = world.skillSha;
    payload.sender = user('octocat');

    const { outputs } = await runJob('pull_request', payload);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'gate', gate: 'upstream-intent', 'chain-pr': '3' });
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    expect(requests.last(JOB, 'POST', `${repoPath}/pulls`)).toMatchObject({ draft: true });
    trackers.push(String(requests.last(JOB, 'PATCH', TRACKER)?.body));
  });

  it('approving the pinned head answers a gate; step 2 reads the upstream named by the skill', async () => {
    const wire = new Wire();
    const JOB = 'gated:2 approve upstream-intent';
    const scope = jobScope(JOB, wire);
    permission(scope);
    reusedProgress(scope, wire, 71, JOB);
    mockUpstreamRead(scope, { ...UPSTREAM, defaultBranch: 'main' });
    gateReview(scope, wire);
    const pinned = remoteHead();
    expect(parseTrackerState(trackers.at(-1))?.pinned_sha).toBe(pinned);

    const { outputs } = await runJob(
      'pull_request_review',
      approval(pinned, String(trackers.at(-1))),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'gate', gate: 'picks' });
    expect(remoteState().decisions).toEqual([
      expect.objectContaining({ gate: 'upstream-intent', answer: 'yes', by: 'octocat' }),
    ]);
    const f02 = parseFrontmatter(
      git(world.origin, 'show', `${BRANCH}:${RUN_DIR}/02-submissions.md`),
      '02-submissions.md',
      submissionsFrontmatter,
    );
    expect(f02.data).toEqual({
      pr_target_repo: 'keepachangelog/agent-skills',
      pr_target_path: 'skills/keep-a-changelog',
      base_branch: 'main',
      license: 'MIT',
      requires_cla: false,
    });
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    trackers.push(String(requests.last(JOB, 'PATCH', TRACKER)?.body));
  });

  it('approving the picks gate moves on to the build plan', async () => {
    const wire = new Wire();
    const JOB = 'gated:3 approve picks';
    const scope = jobScope(JOB, wire);
    permission(scope);
    reusedProgress(scope, wire, 71, JOB);
    gateReview(scope, wire);

    const { outputs } = await runJob(
      'pull_request_review',
      approval(remoteHead(), String(trackers.at(-1))),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'gate', gate: 'build-plan' });
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    trackers.push(String(requests.last(JOB, 'PATCH', TRACKER)?.body));
  });

  it('approving the build plan writes, validates and benches the probes, improves the skill and re-benches it', async () => {
    const wire = new Wire();
    const JOB = 'gated:4 approve build-plan';
    const scope = jobScope(JOB, wire);
    permission(scope);
    reusedProgress(scope, wire, 71, JOB);
    gateReview(scope, wire);

    const { outputs } = await runJob(
      'pull_request_review',
      approval(remoteHead(), String(trackers.at(-1))),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    // Everything passes after the improvement: the all-pass gate asks whether to accept.
    expect(outputs).toMatchObject({ status: 'gate', gate: 'all-pass' });
    const benches = remoteState().benches;
    expect(benches.map((b) => [b.skill, b.accepted])).toEqual([
      ['vendored-skill', null],
      ['improved-skill', true],
    ]);
    expect(benches[1]?.pass_rate).toBeGreaterThan(benches[0]?.pass_rate ?? 100);
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    trackers.push(String(requests.last(JOB, 'PATCH', TRACKER)?.body));
  });

  it('approving the all-pass gate finishes the run; opening the upstream PR meets a 502 and the tracker says how to retry', async () => {
    const wire = new Wire();
    const JOB = 'gated:5 approve all-pass → finish';
    const scope = jobScope(JOB, wire);
    permission(scope);
    reusedProgress(scope, wire, 71, JOB);
    // Publishing: the upstream base, a fork (not there yet, then there), a new branch on it.
    scope
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      .post(
        `${UP}/forks`,
        wire.check('fork', (b) => b.default_branch_only === true),
      )
      .reply(202, { name: UPSTREAM.repo, owner: { login: FORK_OWNER } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(404, { message: 'Not Found' })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      // The fork has just appeared: the branch is created without a lookup.
      .post(
        `${FORK}/git/refs`,
        wire.check('branch', (b) => b.ref === `refs/heads/${PUBLISH}` && b.sha === UPSTREAM_MAIN),
      )
      .reply(201, {});
    mockForkGitData(scope, UPSTREAM_MAIN, sha('upstream-root'));
    scope
      .post(
        `${FORK}/git/trees`,
        wire.check('tree', (b) => b.base_tree === sha('upstream-root')),
      )
      .reply(201, { sha: sha('published-tree') })
      .post(
        `${FORK}/git/commits`,
        wire.check(
          'commit',
          (b) =>
            b.tree === sha('published-tree') &&
            JSON.stringify(b.parents) === JSON.stringify([UPSTREAM_MAIN]),
        ),
      )
      .reply(201, { sha: PUBLISHED })
      .patch(
        `${FORK}/git/refs/${ref(PUBLISH)}`,
        wire.check('move', (b) => b.sha === PUBLISHED && b.force === false),
      )
      .reply(200, {});
    scope
      .get(`${UP}/pulls`)
      .query({ head: `${FORK_OWNER}:${PUBLISH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${UP}/pulls`, wire.check('upstream-pr'))
      .reply(502, { message: 'Bad Gateway' });
    scope
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query({ per_page: 100 })
      .reply(200, [])
      .post(`${repoPath}/issues/${CHAIN_PR}/comments`, wire.check('publish-note'))
      .reply(201, { id: 901 });

    const { outcome, outputs } = await runJob(
      'pull_request_review',
      approval(remoteHead(), String(trackers.at(-1))),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    const state = remoteState();
    expect(state.status).toBe('done');
    expect(state.benches.at(-1)).toMatchObject({ skill: 'improved-skill', accepted: true });
    expect(outputs.status).toBe('failed');
    expect(outcome.message).toContain('publishing the improved skill failed');
    expect(outcome.message).toContain('Retry: comment `/optimize` on the skill pull request');

    // The commit on the fork: exactly the improved skill at the upstream path, nothing else.
    expect(requests.last(JOB, 'POST', `${FORK}/git/trees`)).toEqual({
      base_tree: sha('upstream-root'),
      tree: improvedTree(),
    });
    const commit = requests.last(JOB, 'POST', `${FORK}/git/commits`) as {
      message: string;
      author: unknown;
    };
    expect(commit.message).toMatch(
      /^keep-a-changelog: improve the skill \(bench pass rate [\d.]+% → [\d.]+%\)\n\nBench pass rate/,
    );
    expect(commit.message).toContain('https://github.com/Codertocat/Hello-World/pull/3');
    // The PR that failed to open was asked for as a draft, with the evidence.
    const asked = requests.last(JOB, 'POST', `${UP}/pulls`) as Record<string, string | boolean>;
    expect(asked).toMatchObject({
      head: `${FORK_OWNER}:${PUBLISH}`,
      base: 'main',
      draft: true,
      title: commit.message.split('\n')[0],
    });
    expect(asked.body).toContain('## Before and after');
    expect(asked.body).toContain('| pass rate |');
    expect(asked.body).toContain('https://github.com/Codertocat/Hello-World/pull/3');

    // Where the human looks: tracker, comment and check run all say how to retry.
    const tracker = String(requests.last(JOB, 'PATCH', TRACKER)?.body);
    expect(tracker).toContain('### Publishing failed');
    expect(tracker).toContain('**Retry:** comment `/optimize` on the skill pull request');
    expect(parseTrackerState(tracker)).toMatchObject({ status: 'done', open_gate: null });
    const note = String(
      requests.last(JOB, 'POST', `${repoPath}/issues/${CHAIN_PR}/comments`)?.body,
    );
    expect(
      note.startsWith('<!-- skill-optimizer:publish -->\n### Publishing failed\n\n@octocat '),
    ).toBe(true);
    expect(requests.last(JOB, 'PATCH', `${repoPath}/check-runs/71`)).toMatchObject({
      conclusion: 'failure',
    });
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    trackers.push(tracker);
  });

  it('/optimize retries the publication: the branch is found as it was, the draft PR opens once', async () => {
    const wire = new Wire();
    const JOB = 'gated:6 /optimize retry publish';
    const scope = jobScope(JOB, wire);
    permission(scope);
    skillPull(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    scope
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [{ number: CHAIN_PR, body: trackers.at(-1) }]);
    reusedProgress(scope, wire, 71, JOB);
    scope
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      .post(`${UP}/forks`)
      .reply(202, { name: UPSTREAM.repo, owner: { login: FORK_OWNER } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      .get(`${FORK}/git/ref/${ref(PUBLISH)}`)
      .reply(200, { object: { sha: PUBLISHED } });
    mockForkGitData(scope, PUBLISHED, sha('published-tree'));
    // The same files again: GitHub answers with the tree the branch already has.
    scope
      .post(
        `${FORK}/git/trees`,
        wire.check('tree', (b) => JSON.stringify(b.tree) === JSON.stringify(improvedTree())),
      )
      .reply(201, { sha: sha('published-tree') });
    scope
      .get(`${UP}/pulls`)
      .query({ head: `${FORK_OWNER}:${PUBLISH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(
        `${UP}/pulls`,
        wire.check('upstream-pr', (b) => b.draft === true),
      )
      .reply(201, {
        number: 77,
        html_url: `https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/pull/77`,
      });
    scope
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        {
          id: 901,
          body: '<!-- skill-optimizer:publish -->\n### Publishing failed',
          user: { login: 'github-actions[bot]' },
        },
      ])
      .patch(`${repoPath}/issues/comments/901`, wire.check('publish-note'))
      .reply(200, { id: 901 });
    const payload = example('issue_comment', 'created');
    payload.issue.number = SKILL_PR;
    payload.issue.pull_request = { url: `https://api.github.com${repoPath}/pulls/${SKILL_PR}` };
    payload.comment.body = '/optimize';
    payload.comment.user = user('octocat');
    payload.sender = user('octocat');
    const before = remoteHead();

    const { outputs } = await runJob('issue_comment', payload);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'done', 'chain-pr': '3' });
    expect(remoteHead()).toBe(before);
    const opened = requests.last(JOB, 'POST', `${UP}/pulls`) as Record<string, unknown>;
    expect(opened).toMatchObject({ head: `${FORK_OWNER}:${PUBLISH}`, base: 'main', draft: true });
    expect(Object.keys(opened).sort()).toEqual(['body', 'draft', 'head', 'title', 'base'].sort());
    const note = String(requests.last(JOB, 'PATCH', `${repoPath}/issues/comments/901`)?.body);
    expect(note).toContain(
      `Draft pull request opened: https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/pull/77`,
    );
    expect(note).toContain('Skill Optimizer never marks it ready or merges it');
    expect(String(requests.last(JOB, 'PATCH', TRACKER)?.body)).toContain('### Published');
    expect(requests.last(JOB, 'PATCH', `${repoPath}/check-runs/71`)).toMatchObject({
      conclusion: 'success',
    });
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
    const everything = git(world.origin, 'log', '-p', '--all');
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain(TOKEN);
  });

  it('stays within its GitHub REST request budget', () => {
    const gated = requests.labelled('gated:');
    // Label, four approvals and the publication (jobs 1–5; the publication's 502 costs one
    // request fewer than a success): the chain PR is edited at most once a minute and at each
    // job's end.
    const toPublished = gated.except('gated:6 /optimize retry publish');
    const table = toPublished.render('gated run to its publication');
    reportCount(
      'gated run with 4 gates to a published draft PR',
      toPublished.total(),
      GATED_BUDGET,
    );
    expect(toPublished.total(), table).toBeLessThanOrEqual(GATED_BUDGET);
    expect(gated.count(TRACKER_EDIT), table).toBeLessThanOrEqual(9);
    // One check run for the whole run; the skill PR is read by the label's job only (the
    // approvals take its head from git and the rest from the tracker state).
    expect(toPublished.count(CHECK_CREATE), table).toBe(1);
    expect(toPublished.count(PULL_READ), table).toBe(1);
  });
});

describe('autopilot: one job from the label to the published draft PR', () => {
  useRun('autopilot');

  it('runs every step with gate defaults, then forks the upstream and opens the draft PR with the evidence', async () => {
    const wire = new Wire();
    const JOB = 'autopilot:1 label → published';
    const scope = jobScope(JOB, wire);
    permission(scope);
    skillPull(scope);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }]);
    scope
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [])
      .post(
        `${repoPath}/pulls`,
        wire.check('chain-pr', (b) => b.draft === true),
      )
      .reply(201, { number: CHAIN_PR, html_url: `https://github.com/${OWNER}/${REPO}/pull/3` });
    progress(scope, wire, 81, JOB);
    mockUpstreamRead(scope, { ...UPSTREAM, defaultBranch: 'main' });
    scope
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      .post(
        `${UP}/forks`,
        wire.check('fork', (b) => JSON.stringify(b) === '{"default_branch_only":true}'),
      )
      .reply(202, { name: UPSTREAM.repo, owner: { login: FORK_OWNER } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: UPSTREAM_MAIN } })
      .get(`${FORK}/git/ref/${ref(PUBLISH)}`)
      .reply(404, { message: 'Not Found' })
      .post(`${FORK}/git/refs`, wire.check('branch'))
      .reply(201, {});
    mockForkGitData(scope, UPSTREAM_MAIN, sha('upstream-root'));
    scope
      .post(`${FORK}/git/trees`, wire.check('tree'))
      .reply(201, { sha: sha('published-tree') })
      .post(`${FORK}/git/commits`, wire.check('commit'))
      .reply(201, { sha: PUBLISHED })
      .patch(`${FORK}/git/refs/${ref(PUBLISH)}`, wire.check('move'))
      .reply(200, {});
    scope
      .get(`${UP}/pulls`)
      .query({ head: `${FORK_OWNER}:${PUBLISH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${UP}/pulls`, wire.check('upstream-pr'))
      .reply(201, {
        number: 77,
        html_url: `https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/pull/77`,
      });
    scope
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query({ per_page: 100 })
      .reply(200, [])
      .post(`${repoPath}/issues/${CHAIN_PR}/comments`, wire.check('publish-note'))
      .reply(201, { id: 902 });
    const payload = example('pull_request', 'labeled');
    payload.label.name = 'skill-optimizer:autopilot';
    payload.pull_request.state = 'open';
    payload.pull_request.number = SKILL_PR;
    payload.pull_request.head.ref = SKILL_BRANCH;
    payload.pull_request.head.sha = world.skillSha;
    payload.sender = user('octocat');

    const { outputs } = await runJob('pull_request', payload);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs).toMatchObject({ status: 'done', 'chain-pr': '3' });
    const state = remoteState();
    expect(state.decisions.map((d) => [d.gate, d.answer, d.by])).toEqual([
      ['upstream-intent', 'yes', 'autopilot'],
      ['picks', 'approve', 'autopilot'],
      ['build-plan', 'approve', 'autopilot'],
      ['all-pass', 'accept', 'autopilot'],
    ]);
    const [first, last] = state.benches;
    if (first === undefined || last === undefined) throw new Error('expected two benches');
    const pct = (v: number | null) => (v === null ? '—' : `${v}%`);
    const withCi = (v: number | null, ci: [number, number] | null, n: number) =>
      `${pct(v)}${ci ? ` [${ci[0]}–${ci[1]}]` : ''} (${n} graded)`;
    expect(last.verdict).toBe('improved');
    const title = `keep-a-changelog: improve the skill (bench pass rate ${pct(first.pass_rate)} → ${pct(last.pass_rate)})`;
    expect(requests.last(JOB, 'POST', `${UP}/pulls`)).toEqual({
      head: `${FORK_OWNER}:${PUBLISH}`,
      base: 'main',
      title,
      body: [
        'This changes only the `keep-a-changelog` skill at `skills/keep-a-changelog`. Its instructions were revised to address the weaknesses below, and the revision was benchmarked against the same probes as the original before it was kept.',
        '',
        '## Before and after',
        '',
        '| bench | before (bench 0, `vendored-skill`) | after (bench 1, `improved-skill`) |',
        '| --- | --- | --- |',
        `| pass rate | ${withCi(first.pass_rate, first.pass_rate_interval, first.graded)} | ${withCi(last.pass_rate, last.pass_rate_interval, last.graded)} |`,
        `| held-out probes | ${withCi(first.heldout_pass_rate, first.heldout_interval, first.heldout_graded)} | ${withCi(last.heldout_pass_rate, last.heldout_interval, last.heldout_graded)} |`,
        `| per-probe minimum | ${pct(first.min_probe_pass_rate)} | ${pct(last.min_probe_pass_rate)} |`,
        '| errored trials | 0 | 0 |',
        `| baseline (no skill) | ${pct(first.baseline_pass_rate)} | ${pct(last.baseline_pass_rate)} |`,
        '',
        `**Verdict: improved** — ${escapeMarkdown(last.verdict_reason ?? '')}`,
        '',
        'Pass rates pool every graded trial, with their two-sided intervals in brackets; errored trials are not in the rates. Held-out probes were never shown to the model that wrote the revision, and the tool scanned every analysis, proposal and verdict for their literals; the baseline runs the same probes without the skill.',
        '',
        '## Weaknesses addressed',
        '',
        '- `no-release-procedure`',
        '',
        '## Evidence',
        '',
        `The probes, every bench's raw results, the analysis and the reviewed proposal are in https://github.com/${OWNER}/${REPO}/pull/3.`,
        '',
      ].join('\n'),
      draft: true,
    });
    expect(requests.last(JOB, 'POST', `${FORK}/git/refs`)).toEqual({
      ref: `refs/heads/${PUBLISH}`,
      sha: UPSTREAM_MAIN,
    });
    expect(requests.last(JOB, 'POST', `${FORK}/git/trees`)).toEqual({
      base_tree: sha('upstream-root'),
      tree: improvedTree(),
    });
    expect(requests.last(JOB, 'POST', `${FORK}/git/commits`)).toEqual({
      message: `${title}\n\nBench pass rate ${pct(first.pass_rate)} → ${pct(last.pass_rate)} (held-out ${pct(first.heldout_pass_rate)} → ${pct(last.heldout_pass_rate)}). Evidence: https://github.com/${OWNER}/${REPO}/pull/3\n`,
      tree: sha('published-tree'),
      parents: [UPSTREAM_MAIN],
      author: {
        name: 'github-actions[bot]',
        email: '41898282+github-actions[bot]@users.noreply.github.com',
      },
    });
    expect(requests.last(JOB, 'PATCH', `${FORK}/git/refs/heads/${PUBLISH}`)).toEqual({
      sha: PUBLISHED,
      force: false,
    });
    const note = String(
      requests.last(JOB, 'POST', `${repoPath}/issues/${CHAIN_PR}/comments`)?.body,
    );
    expect(note).toContain(
      `### Published\n\n@octocat Draft pull request opened: https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/pull/77 — \`${FORK_OWNER}:${PUBLISH}\` → \`main\` in \`${UPSTREAM.owner}/${UPSTREAM.repo}\` (from a fork).`,
    );
    expect(note).not.toContain('CLA required');
    expect(note).toContain('- License: MIT');
    const tracker = String(requests.last(JOB, 'PATCH', TRACKER)?.body);
    expect(tracker).toContain('### Published');
    expect(parseTrackerState(tracker)).toMatchObject({ status: 'done' });
    expect(requests.last(JOB, 'PATCH', `${repoPath}/check-runs/81`)).toMatchObject({
      conclusion: 'success',
    });
    // Every step is checked off on the final tracker, none still shown running.
    expect(tracker).not.toContain('**running**');
    expect(tracker).not.toMatch(/^- \[ \] \d\d /m);
    const made = requests.labelled('autopilot:');
    reportCount('autopilot run to a published draft PR', made.total(), AUTOPILOT_BUDGET);
    expect(made.total(), made.render('autopilot run')).toBeLessThanOrEqual(AUTOPILOT_BUDGET);
    // Nothing was marked ready or merged: no such request was made at all.
    expect(requests.entries.some((e) => /\/merge$|ready_for_review/.test(e.path))).toBe(false);
    expect(wire.leaks).toEqual([]);
    expect(requests.leaks(JOB, [API_KEY, TOKEN])).toEqual([]);
  });
});
