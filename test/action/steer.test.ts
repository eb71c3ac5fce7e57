import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/run.js';
import { type GateSpec, gateSpecs, openGate } from '../../src/chain/gates.js';
import {
  type ChainState,
  initialState,
  type OpenGate,
  parseState,
  stateChange,
} from '../../src/chain/state.js';
import { scriptSchema } from '../../src/model/scripted/script.js';
import { type ScriptedServer, startScriptedServer } from '../../src/model/scripted/server.js';
import { renderTracker, type TrackerCheckRun } from '../../src/routing/tracker.js';
import { FUNCTIONALITY_REPORT, specYaml } from '../chain/test-steps-fixture.js';
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
 * Steering a run from its chain PR through the Action's real entry, each command as a comment
 * event: `stop` ends the run with the report (and the non-convergence review, as the CLI's `stop`
 * does), `status` answers, `approve` / `answer` close the open gate (only at its pinned commit),
 * `pick` and `rerun` record the human's choice and drive the run on. Each test starts from a run
 * that has benched once; the ones that drive on have spent their budget, so the run ends at the
 * next step boundary and no step needs a scripted model.
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
});

/** Puts the run (its state, step 1's report and `files` under the run dir) on its branch. */
function seedRun(state: ChainState, files: Record<string, string> = {}): void {
  const seed = join(world.base, 'seed');
  git(seed, 'switch', '--quiet', '-c', BRANCH, SKILL_BRANCH);
  const change = stateChange(state);
  const all = {
    [change.path]: String('content' in change ? change.content : ''),
    '01-functionality.md': FUNCTIONALITY_REPORT,
    ...files,
  };
  for (const [file, text] of Object.entries(all)) {
    mkdirSync(dirname(join(seed, RUN_DIR, file)), { recursive: true });
    writeFileSync(join(seed, RUN_DIR, file), text);
  }
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'skill-optimizer(keep-a-changelog): 06 bench');
  git(seed, 'push', '--quiet', world.origin, BRANCH);
}

/** The benched run with a gate open (asked at step `step`). */
function atGate(spec: GateSpec, step: OpenGate['step'], over: Partial<ChainState> = {}) {
  return {
    ...benchedState(),
    status: 'gate' as const,
    open_gate: openGate(spec, step, new Date('2026-01-01T00:00:00Z')),
    ...over,
  };
}

/** Spend past the default budget: the next step boundary ends the run instead of calling a step. */
const SPENT = { cost_usd: 1000 };

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

/**
 * What every steering job reads and writes on GitHub: the chain PR (its tracker pinned to
 * `pinned`), the check run, the tracker. The skill PR's head comes from git, not the API.
 */
function steeringJob(wire: Wire, state: ChainState, pinned: string | null = null): nock.Scope {
  return chainPrRead(wire, state, pinned)
    .post(`${repoPath}/check-runs`, wire.check('check-create'))
    .reply(201, { id: 5 })
    .patch(`${repoPath}/check-runs/5`, wire.check('check-done'))
    .reply(200, { id: 5 });
}

/** The permission and the chain PR, its tracker naming `checkRun` when given; tracker edits. */
function chainPrRead(
  wire: Wire,
  state: ChainState,
  pinned: string | null,
  checkRun?: TrackerCheckRun,
): nock.Scope {
  const body = renderTracker(state, {
    skillPr: SKILL_PR,
    triggeredBy: 'octocat',
    pinnedSha: pinned,
    results: {},
    running: null,
    ...(checkRun ? { checkRun } : {}),
  });
  api().persist().patch(`${repoPath}/pulls/${CHAIN_PR}`, wire.check('tracker')).reply(200, {});
  return api()
    .get(`${repoPath}/collaborators/octocat/permission`)
    .reply(200, { permission: 'admin', role_name: 'admin', user: { login: 'octocat' } })
    .get(`${repoPath}/pulls/${CHAIN_PR}`)
    .reply(200, pullJson({ number: CHAIN_PR, headRef: BRANCH, headSha: branchHead(), body }));
}

/** `/optimize status` answered on the chain PR (the comment's two requests). */
function statusReply(scope: nock.Scope, wire: Wire): nock.Scope {
  return scope
    .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
    .query(true)
    .reply(200, [])
    .post(`${repoPath}/issues/${CHAIN_PR}/comments`, wire.check('status'))
    .reply(201, { id: 77 });
}

function onChainPr(text: string) {
  const payload = comment(text);
  payload.issue.number = CHAIN_PR;
  return payload;
}

describe('/optimize stop on the chain PR', () => {
  it('ends the run with the report and the non-convergence review, as the CLI does', async () => {
    seedRun(benchedState());
    const wire = new Wire();
    const scope = steeringJob(wire, benchedState());
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
    seedRun(benchedState());
    const wire = new Wire();
    const scope = steeringJob(wire, benchedState());
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
    seedRun(benchedState());
    const wire = new Wire();
    const scope = steeringJob(wire, benchedState())
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

describe("the run's check run, reused across its jobs", () => {
  it('a later job completes the check run the tracker names again, under its name, and creates none', async () => {
    seedRun(benchedState());
    const wire = new Wire();
    const scope = statusReply(
      chainPrRead(wire, benchedState(), null, { id: 41, head_sha: world.skillSha }),
      wire,
    )
      .patch(`${repoPath}/check-runs/41`, wire.check('check-done'))
      .reply(200, { id: 41 });

    const { outputs } = await runJob(onChainPr('/optimize status'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('neutral');
    expect(wire.last('check-done')).toMatchObject({
      name: 'Skill Optimizer',
      status: 'completed',
      conclusion: 'neutral',
    });
  });

  it('when the skill PR head moved past the check run, the result goes on a new one at the new head', async () => {
    seedRun(benchedState());
    const moved = git(
      world.origin,
      'commit-tree',
      '-p',
      world.skillSha,
      '-m',
      'moved',
      `${world.skillSha}^{tree}`,
    );
    git(world.origin, 'update-ref', `refs/pull/${SKILL_PR}/head`, moved);
    const wire = new Wire();
    const scope = statusReply(
      chainPrRead(wire, benchedState(), null, { id: 41, head_sha: world.skillSha }),
      wire,
    )
      .post(
        `${repoPath}/check-runs`,
        wire.check('check-create', (b) => b.head_sha === moved),
      )
      .reply(201, { id: 42 })
      .patch(`${repoPath}/check-runs/42`, wire.check('check-done'))
      .reply(200, { id: 42 });

    const { outputs } = await runJob(onChainPr('/optimize status'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('neutral');
    expect(wire.last('check-done')).toMatchObject({ status: 'completed', conclusion: 'neutral' });
  });

  it('when GitHub no longer has that check run, the result goes on a new, completed one', async () => {
    seedRun(benchedState());
    const wire = new Wire();
    const scope = statusReply(
      chainPrRead(wire, benchedState(), null, { id: 41, head_sha: world.skillSha }),
      wire,
    )
      .patch(`${repoPath}/check-runs/41`)
      .reply(404, { message: 'Not Found' })
      .post(`${repoPath}/check-runs`, wire.check('check-create'))
      .reply(201, { id: 43 });

    const { outputs } = await runJob(onChainPr('/optimize status'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('neutral');
    expect(wire.last('check-create')).toMatchObject({
      name: 'Skill Optimizer',
      head_sha: world.skillSha,
      status: 'completed',
      conclusion: 'neutral',
    });
  });
});

const state = () => parseState(remoteFile('chain.yml'), 'chain.yml');

describe('answering the open gate from the chain PR', () => {
  it('/optimize approve takes the default at the pinned commit and finishes the run', async () => {
    const gated = atGate(gateSpecs.allPass(), 'bench');
    seedRun(gated);
    const wire = new Wire();
    const scope = steeringJob(wire, gated, branchHead());

    const { outputs } = await runJob(onChainPr('/optimize approve'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('done');
    expect(state().status).toBe('done');
    expect(state().decisions).toEqual([
      expect.objectContaining({ gate: 'all-pass', answer: 'accept', by: 'octocat' }),
    ]);
    expect(remoteFile('report.md')).toContain('every probe passes; accepted at the gate');
    expect(wire.leaks).toEqual([]);
  });

  it('/optimize approve for an older commit is not counted and the gate is asked again', async () => {
    const gated = atGate(gateSpecs.allPass(), 'bench');
    seedRun(gated);
    const wire = new Wire();
    const stale = world.skillSha;
    const scope = steeringJob(wire, gated, stale)
      .get(`${repoPath}/issues/${CHAIN_PR}/comments`)
      .query(true)
      .reply(200, [])
      .post(`${repoPath}/issues/${CHAIN_PR}/comments`, wire.check('note'))
      .reply(201, { id: 78 })
      .post(`${repoPath}/pulls/${CHAIN_PR}/reviews`, wire.check('review'))
      .reply(200, { id: 500 })
      .post(`${repoPath}/pulls/${CHAIN_PR}/requested_reviewers`)
      .reply(201, {});
    const before = branchHead();

    const { outputs } = await runJob(onChainPr('/optimize approve'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('gate');
    expect(branchHead()).toBe(before);
    expect(state().open_gate?.id).toBe('all-pass');
    expect(String(wire.last('note')?.body)).toContain(
      `that approval is for ${before.slice(0, 12)}, but the \`all-pass\` gate was asked about ${stale.slice(0, 12)}`,
    );
    expect(wire.last('review')?.commit_id).toBe(before);
  });

  it('/optimize answer takes the named option: its directive is queued and the run goes on', async () => {
    const gated = atGate(gateSpecs.allPass(), 'bench', SPENT);
    seedRun(gated);
    const wire = new Wire();
    const scope = steeringJob(wire, gated, branchHead());

    const { outputs } = await runJob(onChainPr('/optimize answer harder'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('stopped');
    const after = state();
    expect(after.decisions).toEqual([
      expect.objectContaining({ gate: 'all-pass', answer: 'harder', by: 'octocat' }),
    ]);
    expect(after.directives['design-tests']?.length).toBe(1);
    // The run went on from the gate and met its spent budget at the next step boundary.
    expect(after.stop_reason).toMatch(/^cost budget of \$\d+ spent/);
    expect(remoteFile('report.md')).toContain(after.stop_reason ?? '');
  });
});

describe('steering the run from the chain PR', () => {
  it('/optimize pick answers the picks gate with the named functionalities', async () => {
    const gated = atGate(gateSpecs.picks(1), 'design-tests', SPENT);
    seedRun(gated, {
      'tests/alpha/spec.yaml': specYaml({
        functionality: 'alpha',
        picked: false,
        priority: 1,
        probes: [{ id: 'a1' }],
      }),
      'tests/beta/spec.yaml': specYaml({
        functionality: 'beta',
        picked: false,
        priority: 2,
        probes: [{ id: 'b1' }],
      }),
    });
    const wire = new Wire();
    const scope = steeringJob(wire, gated, branchHead());

    const { outputs } = await runJob(onChainPr('/optimize pick beta'));

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('stopped');
    expect(remoteFile('tests/beta/spec.yaml')).toContain('picked: true');
    expect(remoteFile('tests/alpha/spec.yaml')).toContain('picked: false');
    expect(git(world.origin, 'log', '--format=%s', BRANCH)).toMatch(/: pick — beta by octocat$/m);
    expect(state().decisions).toEqual([
      expect.objectContaining({ gate: 'picks', answer: 'pick beta', by: 'octocat' }),
    ]);
  });

  it('/optimize rerun queues the directive for the step and drives the run', async () => {
    const spent = { ...benchedState(), ...SPENT };
    seedRun(spent);
    const wire = new Wire();
    const scope = steeringJob(wire, spent);

    const { outputs } = await runJob(
      onChainPr('/optimize rerun analyze look at the release-date probe first'),
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(outputs.status).toBe('stopped');
    expect(state().directives.analyze).toEqual(['look at the release-date probe first']);
    expect(git(world.origin, 'log', '--format=%s', BRANCH)).toMatch(/: rerun/);
  });
});
