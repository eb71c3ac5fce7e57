import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/run.js';
import { type ChainState, initialState, parseState, stateChange } from '../../src/chain/state.js';
import { scriptSchema } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { renderTracker } from '../../src/routing/tracker.js';
import { FUNCTIONALITY_REPORT } from '../chain/test-steps-fixture.js';
import { comment } from '../routing/webhook-examples.js';
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
 * Steering a run from its chain PR through the Action's real entry: `/optimize stop` ends it with
 * the report (and the non-convergence review, as the CLI's `stop` does), `/optimize status`
 * answers with where the run stands. Each test starts from a run that has benched once and waits.
 */

const sandbox = useGitSandbox();
const BRANCH = 'skill-optimizer/2-keep-a-changelog';
const RUN_DIR = '.skill-optimizer/keep-a-changelog';
const CHAIN_PR = 3;
const REVIEW_WHY = 'The loop stopped before the pass rate reached its threshold.';

let world: World;
let server: ScriptedServer;
const savedBaseUrl = process.env.ANTHROPIC_BASE_URL;

/** A run that benched the vendored skill once (50%) and waits, no gate open. */
function benchedState(): ChainState {
  return {
    ...initialState({
      slug: 'keep-a-changelog',
      skillPath: 'skills/keep-a-changelog',
      sourceCommit: world.skillSha,
      autopilot: false,
    }),
    benches: [
      {
        iteration: 0,
        skill: 'vendored-skill',
        pass_rate: 50,
        heldout_pass_rate: null,
        min_probe_pass_rate: 0,
        baseline_pass_rate: null,
        accepted: null,
        results_dir: `${RUN_DIR}/results/bench-0`,
        verdict: null,
        verdict_reason: null,
        kept: true,
        graded: 4,
        errored: 0,
        pass_rate_interval: null,
        heldout_interval: null,
        heldout_graded: 0,
        beats_baseline: null,
        non_discriminating: [],
        confidence: 0.95,
        extra_trials: 0,
      },
    ],
  };
}

beforeAll(async () => {
  server = await startScriptedServer({
    script: scriptSchema.parse({
      rules: [
        {
          name: 'non-convergence review',
          when: { tool_offered: 'report_non_convergence' },
          reply: {
            content: [
              {
                type: 'tool_use',
                name: 'report_non_convergence',
                input: {
                  why_it_stalled: REVIEW_WHY,
                  evidence: ['One bench at 50%.'],
                  decisions: [
                    {
                      question: 'Accept the skill as it stands?',
                      options: [
                        { option: 'accept', consequence: 'Nothing more is tried.' },
                        { option: 'rerun improve', consequence: 'One more round.' },
                      ],
                      recommendation: 'Read the bench first.',
                    },
                  ],
                },
              },
            ],
          },
        },
      ],
    }),
  });
  process.env.ANTHROPIC_BASE_URL = server.url;
});

afterAll(async () => {
  await server.close();
  if (savedBaseUrl === undefined) delete process.env.ANTHROPIC_BASE_URL;
  else process.env.ANTHROPIC_BASE_URL = savedBaseUrl;
});

beforeEach(() => {
  world = makeWorld(join(sandbox.base, `w${Math.random().toString(36).slice(2)}`));
  const seed = join(world.base, 'seed');
  git(seed, 'switch', '--quiet', '-c', BRANCH, SKILL_BRANCH);
  const state = stateChange(benchedState());
  mkdirSync(join(seed, RUN_DIR), { recursive: true });
  writeFileSync(join(seed, RUN_DIR, state.path), String('content' in state ? state.content : ''));
  writeFileSync(join(seed, RUN_DIR, '01-functionality.md'), FUNCTIONALITY_REPORT);
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'skill-optimizer(keep-a-changelog): 06 bench');
  git(seed, 'push', '--quiet', world.origin, BRANCH);
});

afterEach(() => {
  nock.cleanAll();
  vi.restoreAllMocks();
});

const branchHead = () => git(world.origin, 'rev-parse', BRANCH);
const remoteFile = (file: string) => git(world.origin, 'show', `${BRANCH}:${RUN_DIR}/${file}`);

async function runJob(payload: unknown, apiKey = API_KEY) {
  const workspace = checkout(world);
  const env = jobEnv({
    workspace,
    eventName: 'issue_comment',
    payload,
    inputs: { 'github-token': TOKEN, 'anthropic-api-key': apiKey },
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const outcome = await run({ github: { retry: false, throttle: false } });
    return { outcome, outputs: readOutputs(env.files.output) };
  } finally {
    vi.restoreAllMocks();
    env.restore();
    process.exitCode = undefined;
  }
}

/** What every steering job reads and writes on GitHub: the PRs, the check run, the tracker. */
function steeringJob(wire: Wire): nock.Scope {
  const body = renderTracker(benchedState(), {
    skillPr: SKILL_PR,
    triggeredBy: 'octocat',
    pinnedSha: null,
    results: {},
    running: null,
  });
  api().persist().patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).reply(200, {});
  return api()
    .get(`${repoPath}/collaborators/octocat/permission`)
    .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } })
    .get(`${repoPath}/pulls/${CHAIN_PR}`)
    .reply(200, pullJson({ number: CHAIN_PR, headRef: BRANCH, headSha: branchHead(), body }))
    .get(`${repoPath}/pulls/${SKILL_PR}`)
    .reply(200, pullJson({ number: SKILL_PR, headRef: SKILL_BRANCH, headSha: world.skillSha }))
    .post(`${repoPath}/check-runs`, wire.check('check-create'))
    .reply(201, { id: 5 })
    .patch(`${repoPath}/check-runs/5`, wire.check('check-done'))
    .reply(200, { id: 5 });
}

function onChainPr(text: string) {
  const payload = comment(text);
  payload.issue.number = CHAIN_PR;
  return payload;
}

describe('/optimize stop on the chain PR', () => {
  it('ends the run with the report and the non-convergence review, as the CLI does', async () => {
    const wire = new Wire();
    const scope = steeringJob(wire);
    const before = branchHead();

    const { outputs } = await runJob(onChainPr('/optimize stop'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('stopped');
    expect(git(world.origin, 'rev-list', '--count', `${before}..${branchHead()}`)).toBe('1');
    const state = parseState(remoteFile('chain.yml'), 'chain.yml');
    expect(state.status).toBe('stopped');
    expect(state.stop_reason).toBe('stopped by octocat');
    const report = remoteFile('report.md');
    expect(report).toContain('## Non-convergence review');
    expect(report).toContain(REVIEW_WHY);
    expect(server.requests.filter((r) => r.rule === 'non-convergence review')).toHaveLength(1);
    expect(wire.leaks).toEqual([]);
    expect(JSON.stringify(wire.last('check-done'))).toContain('stopped by octocat');
  });

  it('without a key still ends the run with its report, the review left out', async () => {
    const wire = new Wire();
    const scope = steeringJob(wire);
    const calls = server.requests.length;

    const { outputs } = await runJob(onChainPr('/optimize stop'), '');

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('stopped');
    expect(parseState(remoteFile('chain.yml'), 'chain.yml').status).toBe('stopped');
    const report = remoteFile('report.md');
    expect(report).toContain('stopped by octocat');
    expect(report).not.toContain('## Non-convergence review');
    expect(server.requests.length).toBe(calls);
  });
});

describe('/optimize status on the chain PR', () => {
  it('answers with where the run stands and changes nothing on the branch', async () => {
    const wire = new Wire();
    const scope = steeringJob(wire)
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query(true)
      .reply(200, [])
      .post(`${repoPath}/issues/${CHAIN_PR}/comments`, wire.check('status'))
      .reply(201, { id: 77 });
    const before = branchHead();

    const { outputs } = await runJob(onChainPr('/optimize status'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('neutral');
    expect(branchHead()).toBe(before);
    const body = String(wire.last('status')?.body);
    expect(body).toContain('<!-- skill-optimizer:note -->');
    expect(body).toContain('keep-a-changelog');
  });
});
