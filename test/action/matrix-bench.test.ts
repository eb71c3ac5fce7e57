import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/action/run.js';
import { parseResults } from '../../src/bench/results.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { parseState } from '../../src/chain/state.js';
import { loadScript } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { example, user } from '../routing/webhook-examples.js';
import { git, useGitSandbox } from '../store/git-fixture.js';
import { FakeArtifacts } from './fake-artifacts.js';
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
  type World,
} from './harness.js';
import { RequestLog } from './request-log.js';
import { mockUpstreamRead } from './upstream-api.js';

/**
 * Step 06 on the Actions job matrix (docs/chain.md "The bench on the job matrix"). One gated run
 * is driven to its build-plan gate; its origin is then copied into worlds that approve that gate
 * differently: one benches in the chain's job, one fans out (chain job → three shard jobs → merge
 * job), one loses a shard. The fanned-out run must end where the in-job run ends, with the same
 * trials, rates and verdicts.
 */

const sandbox = useGitSandbox();
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';
const CHAIN_PR = 3;
const INPUTS = { 'anthropic-api-key': API_KEY, 'github-token': TOKEN };
const UPSTREAM = { owner: 'keepachangelog', repo: 'agent-skills' };
const SOURCE_URL = `https://github.com/${UPSTREAM.owner}/${UPSTREAM.repo}/tree/main/skills/keep-a-changelog`;
const TRACKER = `${repoPath}/pulls/${CHAIN_PR}`;
const MATRIX_CONFIG = 'matrix_min_trials: 4\nmatrix_shards: 3\n';

let server: ScriptedServer;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

beforeAll(async () => {
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

/** The harness's world with a SKILL.md naming its upstream repository (step 2 reads it). */
const makeSourcedWorld = (base: string) => makeWorld(base, { repository: SOURCE_URL });

/** A copy of `world`'s origin as it stands, optionally with `configLines` added on master. */
function forkWorld(world: World, name: string, configLines = ''): World {
  const base = join(sandbox.base, name);
  mkdirSync(base, { recursive: true });
  const origin = join(base, 'origin.git');
  cpSync(world.origin, origin, { recursive: true });
  if (configLines !== '') {
    const edit = join(base, 'edit');
    git(base, 'clone', '--quiet', '--branch', 'master', origin, edit);
    const file = join(edit, '.github', 'skill-optimizer.yml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}${configLines}`);
    git(edit, 'commit', '--quiet', '-am', 'Fan the bench out over the job matrix');
    git(edit, 'push', '--quiet', 'origin', 'master');
  }
  return { base, origin, skillSha: world.skillSha };
}

const stateOf = (world: World) =>
  parseState(git(world.origin, 'show', `${BRANCH}:${RUN_DIR}/chain.yml`), 'chain.yml');
const headOf = (world: World) => git(world.origin, 'rev-parse', BRANCH);

async function runJob(
  world: World,
  eventName: string,
  payload: unknown,
  inputs: Record<string, string>,
  artifacts?: FakeArtifacts,
) {
  const workspace = checkout(world);
  const env = jobEnv({ workspace, eventName, payload, inputs });
  try {
    const outcome = await run({
      github: { retry: false, throttle: false },
      ...(artifacts ? { artifacts } : {}),
    });
    return {
      outcome,
      outputs: readOutputs(env.files.output),
      summary: readFileSync(env.files.summary, 'utf8'),
    };
  } finally {
    env.restore();
  }
}

function permission(scope: nock.Scope) {
  scope
    .get(`${repoPath}/collaborators/octocat/permission`)
    .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } });
}

function skillPull(scope: nock.Scope, world: World) {
  scope
    .get(`${repoPath}/pulls/${SKILL_PR}`)
    .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }));
}

/**
 * A later job of the run: the skill PR's head comes from git and the check run the tracker state
 * names (the label job's) is completed again, none created.
 */
function reusedProgress(scope: nock.Scope, job: string) {
  scope.patch(`${repoPath}/check-runs/${RUN_CHECK}`).reply(200, { id: RUN_CHECK });
  requests.attach(api().persist(), job).patch(TRACKER).reply(200, {});
}

/** The label job's check run, reused by every later job of the run. */
const RUN_CHECK = 71;

/** Every GitHub request of every job, by job. */
const requests = new RequestLog();
let jobs = 0;

/** A scope for one job, its requests logged under a fresh job label. */
function jobScope(): { scope: nock.Scope; job: string } {
  jobs += 1;
  const job = `job-${jobs}`;
  return { scope: requests.attach(api(), job), job };
}

/** Check run created and completed; tracker edits logged (as many as the job needs). */
function progress(scope: nock.Scope, job: string, checkId: number) {
  scope
    .post(`${repoPath}/check-runs`)
    .reply(201, { id: checkId })
    .patch(`${repoPath}/check-runs/${checkId}`)
    .reply(200, { id: checkId });
  requests.attach(api().persist(), job).patch(TRACKER).reply(200, {});
}

function gateReview(scope: nock.Scope) {
  scope
    .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`)
    .reply(200, { id: 500 })
    .post(`${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`)
    .reply(201, {});
}

const trackerOf = (job: string) => String(requests.last(job, 'PATCH', TRACKER)?.body);
const checkDone = (job: string, id: number) =>
  requests.last(job, 'PATCH', `${repoPath}/check-runs/${id}`);

let reviews = 0;

function approval(world: World, prBody: string) {
  const payload = example('pull_request_review', 'submitted');
  reviews += 1;
  payload.review.id = 6000 + reviews;
  payload.review.state = 'approved';
  payload.review.commit_id = headOf(world);
  payload.review.body = null;
  payload.pull_request.number = CHAIN_PR;
  payload.pull_request.head.ref = BRANCH;
  payload.pull_request.body = prBody;
  payload.sender = user('octocat');
  payload.review.user = payload.sender;
  return payload;
}

/** Approves the open gate of `world`'s run in one job; returns the job and its last tracker. */
async function approveGate(
  world: World,
  tracker: string,
  opts: { nextGate: boolean; upstream?: boolean },
) {
  const { scope, job } = jobScope();
  permission(scope);
  reusedProgress(scope, job);
  if (opts.upstream) mockUpstreamRead(scope, { ...UPSTREAM, defaultBranch: 'main' });
  if (opts.nextGate) gateReview(scope);
  const result = await runJob(world, 'pull_request_review', approval(world, tracker), INPUTS);
  expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
  expect(requests.leaks(job, [API_KEY, TOKEN])).toEqual([]);
  nock.cleanAll();
  return { ...result, job, tracker: trackerOf(job) };
}

/** What a trial's outcome is, whichever job ran it. */
const outcomeOf = (r: TrialRecord) => ({
  probe: r.probe,
  model: r.model,
  trial: r.trial,
  baseline: r.baseline,
  status: r.status,
  score: r.grader?.score ?? null,
});

function benchRecords(world: World, resultsDir: string) {
  const text = git(world.origin, 'show', `${BRANCH}:${RUN_DIR}/${resultsDir}/results.jsonl`);
  return parseResults(`${text}\n`, 'results.jsonl').map(outcomeOf);
}

/** The bench progression without what names its folder or its time. */
const benchesOf = (world: World) =>
  stateOf(world).benches.map(({ results_dir: _dir, ...point }) => point);

describe('step 06 on the job matrix', () => {
  let prefix: World;
  let buildPlanTracker = '';

  beforeAll(async () => {
    prefix = makeSourcedWorld(join(sandbox.base, 'prefix'));
    // Label: steps to the upstream-intent gate, chain PR opened.
    const { scope, job } = jobScope();
    permission(scope);
    skillPull(scope, prefix);
    scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }])
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${repoPath}/pulls`)
      .reply(201, { number: CHAIN_PR, html_url: `https://github.com/${OWNER}/${REPO}/pull/3` });
    progress(scope, job, RUN_CHECK);
    gateReview(scope);
    const payload = example('pull_request', 'labeled');
    payload.label.name = 'skill-optimizer';
    payload.pull_request.state = 'open';
    payload.pull_request.number = SKILL_PR;
    payload.pull_request.head.ref = SKILL_BRANCH;
    payload.pull_request.head.sha = prefix.skillSha;
    payload.sender = user('octocat');
    const labelled = await runJob(prefix, 'pull_request', payload, INPUTS);
    expect(labelled.outputs).toMatchObject({ status: 'gate', gate: 'upstream-intent' });
    nock.cleanAll();
    const intent = await approveGate(prefix, trackerOf(job), { nextGate: true, upstream: true });
    expect(intent.outputs).toMatchObject({ status: 'gate', gate: 'picks' });
    const picks = await approveGate(prefix, intent.tracker, { nextGate: true });
    expect(picks.outputs).toMatchObject({ status: 'gate', gate: 'build-plan' });
    buildPlanTracker = picks.tracker;
  }, 120_000);

  it('fans out: the chain job plans, three shard jobs bench, the merge job ends where an in-job bench ends', async () => {
    // The same run, benched in the chain's own job.
    const inJob = forkWorld(prefix, 'in-job');
    const direct = await approveGate(inJob, buildPlanTracker, { nextGate: true });
    expect(direct.outputs).toMatchObject({ status: 'gate', gate: 'all-pass', 'bench-matrix': '' });

    // The chain job: steps 04 and 05 run, step 06 is planned on three shards, the job ends.
    const fanned = forkWorld(prefix, 'matrix', MATRIX_CONFIG);
    const artifacts = new FakeArtifacts(join(fanned.base, 'artifacts'));
    const chain = await approveGate(fanned, buildPlanTracker, { nextGate: false });
    expect(chain.outputs.status).toBe('neutral');
    expect(chain.outcome.message).toMatch(/06 bench running on 3 shards of the job matrix/);
    const planned = stateOf(fanned);
    expect(planned.benches).toEqual([]);
    expect(planned.bench_plan).toMatchObject({
      shards: 3,
      baseline: true,
      skill: 'vendored-skill',
    });
    const plan = planned.bench_plan;
    if (plan === null) throw new Error('expected a bench plan');
    expect(plan.per_shard.reduce((a, b) => a + b, 0)).toBe(plan.trials);
    expect(plan.trials).toBeGreaterThan(4);
    expect(chain.tracker).toContain(
      `06 bench: **running** — running on 3 shards of the job matrix (${plan.trials} trials`,
    );
    expect(checkDone(chain.job, RUN_CHECK)).toMatchObject({ conclusion: 'neutral' });
    const matrix = JSON.parse(chain.outputs['bench-matrix'] ?? '') as {
      include: Array<Record<string, unknown>>;
    };
    expect(matrix.include).toEqual(
      ['1/3', '2/3', '3/3'].map((shard) => ({
        branch: BRANCH,
        shard,
        chain_pr: CHAIN_PR,
        actor: 'octocat',
        autopilot: false,
      })),
    );

    // Three shard jobs: each benches its part of the planned commit and uploads it.
    for (const entry of matrix.include) {
      const shard = await runJob(
        fanned,
        'pull_request_review',
        approval(fanned, chain.tracker),
        { ...INPUTS, command: 'bench-shard', shard: String(entry.shard), 'work-branch': BRANCH },
        artifacts,
      );
      expect(shard.outputs.status).toBe('done');
    }
    expect(artifacts.stored.map((a) => a.name)).toEqual([
      'skill-optimizer-chain-bench-keep-a-changelog-1',
      'skill-optimizer-chain-bench-keep-a-changelog-2',
      'skill-optimizer-chain-bench-keep-a-changelog-3',
    ]);
    // The shards wrote nothing to the branch.
    expect(stateOf(fanned).bench_plan).toEqual(plan);

    // The merge job: step 06 from the merged shards, then 07, 08, 09 and the re-bench, to the gate.
    const { scope, job } = jobScope();
    skillPull(scope, fanned);
    progress(scope, job, 76);
    gateReview(scope);
    const merge = await runJob(
      fanned,
      'pull_request_review',
      approval(fanned, chain.tracker),
      { ...INPUTS, command: 'bench-merge', 'bench-matrix': chain.outputs['bench-matrix'] ?? '' },
      artifacts,
    );
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(merge.outputs).toMatchObject({ status: 'gate', gate: 'all-pass', 'bench-matrix': '' });
    expect(requests.leaks(job, [API_KEY, TOKEN])).toEqual([]);

    // The same place, the same evidence.
    const [first] = stateOf(fanned).benches;
    const [inJobFirst] = stateOf(inJob).benches;
    if (first === undefined || inJobFirst === undefined) throw new Error('expected benches');
    expect(benchRecords(fanned, first.results_dir)).toEqual(
      benchRecords(inJob, inJobFirst.results_dir),
    );
    expect(benchesOf(fanned)).toEqual(benchesOf(inJob));
    expect(benchesOf(fanned).map((b) => [b.skill, b.accepted, b.verdict])).toEqual([
      ['vendored-skill', null, null],
      ['improved-skill', true, 'improved'],
    ]);
    const after = stateOf(fanned);
    expect(after.bench_plan).toBeNull();
    expect(after.open_gate?.id).toBe('all-pass');
    // The shards' trials are charged to the run once, in step 06's commit (the two worlds share
    // one scripted server, whose prompt cache makes the second run's calls cheaper).
    const firstCost = parseResults(
      `${git(fanned.origin, 'show', `${BRANCH}:${RUN_DIR}/${first.results_dir}/results.jsonl`)}\n`,
      'results.jsonl',
    ).reduce((sum, r) => sum + r.cost_usd, 0);
    expect(firstCost).toBeGreaterThan(0);
    expect(after.cost_usd).toBeGreaterThanOrEqual(planned.cost_usd + firstCost - 1e-9);
    expect(trackerOf(job)).not.toContain('shards of the job matrix');
  }, 300_000);

  it('a missing shard fails the merge plainly: step 06 failed on the branch, a note on the chain PR, a second merge changes nothing, /optimize plans again', async () => {
    const world = forkWorld(prefix, 'lost-shard', MATRIX_CONFIG);
    const artifacts = new FakeArtifacts(join(world.base, 'artifacts'));
    const chain = await approveGate(world, buildPlanTracker, { nextGate: false });
    expect(chain.outputs.status).toBe('neutral');
    const matrix = chain.outputs['bench-matrix'] ?? '';
    const planned = stateOf(world);

    // Shard 2 of 3 never uploads (its job failed).
    for (const shard of ['1/3', '3/3']) {
      const job = await runJob(
        world,
        'pull_request_review',
        approval(world, chain.tracker),
        { ...INPUTS, command: 'bench-shard', shard, 'work-branch': BRANCH },
        artifacts,
      );
      expect(job.outputs.status).toBe('done');
    }

    const { scope, job } = jobScope();
    skillPull(scope, world);
    progress(scope, job, 78);
    scope
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query({ per_page: 100 })
      .reply(200, [])
      .post(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .reply(201, { id: 903 });
    const note = () =>
      String(requests.last(job, 'POST', `${repoPath}/issues/${CHAIN_PR}/comments`)?.body);
    const merge = await runJob(
      world,
      'pull_request_review',
      approval(world, chain.tracker),
      { ...INPUTS, command: 'bench-merge', 'bench-matrix': matrix },
      artifacts,
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(merge.outputs.status).toBe('failed');
    const reason =
      'no results from bench shard 2/3 of 3: the shard job failed or uploaded nothing, so step 06 has no complete bench to resume from';
    expect(merge.outcome.message).toContain(reason);
    expect(checkDone(job, 78)).toMatchObject({ conclusion: 'failure' });
    expect(note()).toContain(`@octocat step 06 could not resume from the job matrix: ${reason}`);
    expect(note()).toContain('comment `/optimize` on the skill pull request');
    // The branch: the plan is dropped, step 06 recorded as failed, nothing of the bench committed.
    const state = stateOf(world);
    expect(state.bench_plan).toBeNull();
    expect(state.last_error).toEqual({ step: 'bench', message: reason });
    expect(state.benches).toEqual([]);
    expect(state.cost_usd).toBe(planned.cost_usd);
    expect(git(world.origin, 'log', '-1', '--format=%s', BRANCH)).toBe(
      `skill-optimizer(keep-a-changelog): 06 bench failed — ${reason}`,
    );
    expect(trackerOf(job)).toMatch(/06 bench: \*\*failed\*\* — no results/);

    // A shard job re-run now has nothing to bench: it fails plainly and benches nothing.
    const late = await runJob(
      world,
      'pull_request_review',
      approval(world, chain.tracker),
      { ...INPUTS, command: 'bench-shard', shard: '2/3', 'work-branch': BRANCH },
      artifacts,
    );
    expect(late.outputs.status).toBe('failed');
    expect(late.outcome.message).toMatch(
      /^no bench is planned on skill-optimizer\/2-keep-a-changelog/,
    );
    expect(artifacts.stored.map((a) => a.name)).not.toContain(
      'skill-optimizer-chain-bench-keep-a-changelog-2',
    );

    // Running the merge again finds nothing planned and leaves the branch alone.
    const head = headOf(world);
    nock.cleanAll();
    const again = jobScope();
    skillPull(again.scope, world);
    progress(again.scope, again.job, 79);
    const rerun = await runJob(
      world,
      'pull_request_review',
      approval(world, chain.tracker),
      { ...INPUTS, command: 'bench-merge', 'bench-matrix': matrix },
      artifacts,
    );
    expect(rerun.outcome.message).toContain('no bench is planned on');
    expect(headOf(world)).toBe(head);

    // `/optimize` on the skill PR resumes the run: step 06 is planned again.
    nock.cleanAll();
    const resume = jobScope();
    permission(resume.scope);
    skillPull(resume.scope, world);
    resume.scope
      .get(`${repoPath}/pulls/${SKILL_PR}/files`)
      .query({ per_page: 100 })
      .reply(200, [{ filename: 'skills/keep-a-changelog/SKILL.md' }])
      .get(`${repoPath}/pulls`)
      .query({ head: `${OWNER}:${BRANCH}`, base: SKILL_BRANCH, state: 'open', per_page: 1 })
      .reply(200, [{ number: CHAIN_PR, body: trackerOf(job) }]);
    progress(resume.scope, resume.job, 80);
    const comment = example('issue_comment', 'created');
    comment.issue.number = SKILL_PR;
    comment.issue.pull_request = { url: `https://api.github.com${repoPath}/pulls/${SKILL_PR}` };
    comment.comment.body = '/optimize';
    comment.comment.user = user('octocat');
    comment.sender = user('octocat');
    const replanned = await runJob(world, 'issue_comment', comment, INPUTS);
    expect(resume.scope.isDone(), `pending: ${resume.scope.pendingMocks().join(', ')}`).toBe(true);
    expect(replanned.outputs.status).toBe('neutral');
    expect(JSON.parse(replanned.outputs['bench-matrix'] ?? '').include).toHaveLength(3);
    expect(stateOf(world).bench_plan).toMatchObject({ shards: 3, commit: head });
    expect(trackerOf(resume.job)).toContain('06 bench: **running** — running on 3 shards');
  }, 120_000);
});
