import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLAUDE_CODE_CACHE } from '../../src/action/run.js';
import { dispatchInputs } from '../../src/app/handlers.js';

const WORKFLOW = 'examples/workflows/skill-optimizer.yml';
const APP_WORKFLOW = 'examples/workflows/skill-optimizer-app.yml';

// biome-ignore lint/suspicious/noExplicitAny: a parsed workflow is walked freely.
type Workflow = any;

function load(path: string): { text: string; workflow: Workflow } {
  const text = readFileSync(path, 'utf8');
  return { text, workflow: parse(text) };
}

// biome-ignore lint/suspicious/noExplicitAny: as above.
function stepsOf(workflow: Workflow): any[] {
  return Object.values(workflow.jobs).flatMap((job) => (job as { steps: unknown[] }).steps);
}

/** Every input the App can send: a dispatch with all of them set. */
const APP_INPUTS = Object.keys(
  dispatchInputs({
    pr: 1,
    command: { kind: 'answer', option: 'keep' },
    actor: 'octocat',
    skill: 'skills/pdf',
    commentId: 2,
    headSha: 'a'.repeat(40),
    reviewId: 3,
  }),
).sort();

describe.each([WORKFLOW, APP_WORKFLOW])('%s', (path) => {
  const { workflow } = load(path);
  const steps = stepsOf(workflow);

  it('caches the Claude Code agent where the Action installs it, before every job that benches', () => {
    for (const [name, job] of Object.entries(workflow.jobs as Record<string, Workflow>)) {
      const all = job.steps as Workflow[];
      const action = all.findIndex((st) => String(st.uses).startsWith('your-org/skill-optimizer@'));
      if (action === -1 || all[action].with?.command === 'bench-merge') continue;
      const cache = all.findIndex((st) => String(st.uses).startsWith('actions/cache@'));
      expect(cache, `job ${name}`).toBeGreaterThan(-1);
      expect(cache, `job ${name}`).toBeLessThan(action);
      const path = String(all[cache].with.path);
      expect(path.replace(/^~/, homedir())).toBe(CLAUDE_CODE_CACHE);
      expect(String(all[cache].with.key)).toContain('hashFiles(');
    }
  });

  it('declares every input the App dispatches (GitHub refuses undeclared ones)', () => {
    expect(APP_INPUTS).toEqual([
      'actor',
      'command',
      'comment_id',
      'head_sha',
      'pr',
      'review_id',
      'skill',
    ]);
    const declared = workflow.on.workflow_dispatch.inputs;
    for (const name of APP_INPUTS) expect(declared[name], name).toMatchObject({ type: 'string' });
    expect(declared.pr.required).toBe(true);
    for (const name of APP_INPUTS.filter((n) => n !== 'pr')) {
      expect(declared[name], name).toMatchObject({ required: false, default: '' });
    }
    expect(Object.keys(declared).sort()).toEqual([...APP_INPUTS, 'suite'].sort());
  });

  it('never uses pull_request_target', () => {
    expect(Object.keys(workflow.on)).not.toContain('pull_request_target');
  });

  it('reads only at the top and grants writes per job', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(workflow.jobs.chain.permissions).toEqual({
      contents: 'write',
      'pull-requests': 'write',
      checks: 'write',
      issues: 'write',
    });
    for (const job of Object.values(workflow.jobs)) {
      expect((job as { permissions?: unknown }).permissions).toBeDefined();
    }
  });

  it('serialises runs per PR without cancelling them', () => {
    expect(workflow.concurrency.group).toMatch(/^skill-optimizer-\$\{\{ .*inputs\.pr \}\}$/);
    expect(workflow.concurrency['cancel-in-progress']).toBe(false);
  });

  it("skips the bot's own events", () => {
    expect(workflow.jobs.chain.if).toContain("github.event.sender.login != 'github-actions[bot]'");
  });

  it('pins every action by full commit SHA and keeps credentials off disk', () => {
    for (const step of steps.filter((s) => s.uses)) {
      expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    }
    for (const step of steps.filter((s) => String(s.uses).startsWith('actions/checkout@'))) {
      expect(step.with['persist-credentials']).toBe(false);
    }
  });

  it('never expands expressions inside run:', () => {
    const runs = steps.filter((s) => s.run).map((s) => s.run as string);
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) expect(run).not.toMatch(/\$\{\{/);
  });

  it('enables bubblewrap before the Action in every job that runs trials', () => {
    for (const name of ['chain', 'bench', 'chain-bench', 'chain-merge']) {
      const jobSteps = workflow.jobs[name].steps as Array<{ run?: string; uses?: string }>;
      const enable = jobSteps.findIndex((s) => s.run?.includes('bwrap'));
      const action = jobSteps.findIndex((s) => s.uses?.startsWith('your-org/skill-optimizer@'));
      expect(enable, name).toBeGreaterThanOrEqual(0);
      expect(enable, name).toBeLessThan(action);
      const script = jobSteps[enable]?.run ?? '';
      expect(script).toContain('apt-get install -y -qq --no-install-recommends bubblewrap');
      expect(script).toContain('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
      // The step fails the job when a sandbox still cannot start.
      expect(script).toMatch(/^bwrap --unshare-all .* true$/m);
    }
  });

  it("fans the chain's step 06 out over the chain job's matrix and resumes it in a merge job", () => {
    const chain = workflow.jobs.chain;
    const action = chain.steps.find((s: { uses?: string }) =>
      s.uses?.startsWith('your-org/skill-optimizer@'),
    );
    expect(chain.outputs['bench-matrix']).toBe(`\${{ steps.${action.id}.outputs.bench-matrix }}`);
    const shards = workflow.jobs['chain-bench'];
    expect(shards.needs).toBe('chain');
    expect(shards.if).toBe("needs.chain.outputs.bench-matrix != ''");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
    expect(shards.strategy.matrix).toBe('${{ fromJSON(needs.chain.outputs.bench-matrix) }}');
    expect(shards.strategy['fail-fast']).toBe(false);
    const shardStep = shards.steps.find(
      (s: { with?: { command?: string } }) => s.with?.command === 'bench-shard',
    );
    expect(shardStep.with).toMatchObject({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
      shard: '${{ matrix.shard }}',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
      'work-branch': '${{ matrix.branch }}',
    });
    const merge = workflow.jobs['chain-merge'];
    expect(merge.needs).toEqual(['chain', 'chain-bench']);
    // A failed shard still reaches the merge, which reports it on the PR.
    expect(merge.if).toContain('!cancelled()');
    expect(merge.permissions).toEqual(chain.permissions);
    const mergeStep = merge.steps.find(
      (s: { with?: { command?: string } }) => s.with?.command === 'bench-merge',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
    expect(mergeStep.with['bench-matrix']).toBe('${{ needs.chain.outputs.bench-matrix }}');
  });

  it('benches in a shard matrix and merges the shards', () => {
    const bench = workflow.jobs.bench;
    expect(bench.if).toContain("inputs.suite != ''");
    expect(workflow.jobs.chain.if).toContain("inputs.suite == ''");
    expect(bench.strategy.matrix.shard.length).toBeGreaterThan(1);
    const shardStep = bench.steps.find(
      (s: { with?: { command?: string } }) => s.with?.command === 'bench-shard',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
    expect(shardStep.with.shard).toBe('${{ matrix.shard }}');
    const merge = workflow.jobs['bench-merge'];
    expect(merge.needs).toBe('bench');
    expect(
      merge.steps.some((s: { with?: { command?: string } }) => s.with?.command === 'bench-merge'),
    ).toBe(true);
  });
});

describe('the two ways to install', () => {
  const plain = load(WORKFLOW);
  const app = load(APP_WORKFLOW);

  it('workflow only: triggers on labels, comments, reviews and dispatch', () => {
    expect(plain.workflow.on).toMatchObject({
      pull_request: { types: ['labeled'] },
      issue_comment: { types: ['created'] },
      pull_request_review: { types: ['submitted'] },
      workflow_dispatch: { inputs: { pr: { required: true } } },
    });
    expect(plain.workflow.concurrency.group).toMatch(
      /^skill-optimizer-\$\{\{ github\.event\.pull_request\.number \|\| github\.event\.issue\.number/,
    );
  });

  it('with the App: only workflow_dispatch, so no event is handled twice', () => {
    expect(Object.keys(app.workflow.on)).toEqual(['workflow_dispatch']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression
    expect(app.workflow.concurrency.group).toBe('skill-optimizer-${{ inputs.pr }}');
  });

  it('both run the same jobs with the same steps', () => {
    expect(Object.keys(app.workflow.jobs)).toEqual(Object.keys(plain.workflow.jobs));
    expect(stepsOf(app.workflow)).toEqual(stepsOf(plain.workflow));
    expect(app.workflow.on.workflow_dispatch).toEqual(plain.workflow.on.workflow_dispatch);
  });

  it('each header says how to install it, under the name the App dispatches', () => {
    for (const { text } of [plain, app]) {
      expect(text).toContain('.github/workflows/skill-optimizer.yml');
    }
    expect(plain.text).toContain('examples/workflows/skill-optimizer-app.yml');
    expect(app.text).toContain('examples/workflows/skill-optimizer.yml');
  });
});

describe.each(['.github/workflows/dist.yml', '.github/workflows/release.yml'])('%s', (path) => {
  const { text, workflow } = load(path);
  const steps = stepsOf(workflow);

  it('reads only by default, pins every action by SHA and keeps event data out of run:', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    for (const step of steps.filter((s) => s.uses)) {
      expect(step.uses, step.uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    }
    for (const step of steps.filter((s) => s.run)) {
      expect(step.run, step.run).not.toMatch(/\$\{\{/);
    }
    expect(text).not.toContain('pull_request_target');
  });

  it('fails when dist/ is not what src/ builds', () => {
    const runs = steps.map((s) => s.run).filter(Boolean);
    const build = runs.indexOf('node scripts/build-action.mjs');
    expect(build).toBeGreaterThan(runs.indexOf('npm ci --no-audit --no-fund'));
    expect(runs[build + 1]).toBe('git diff --exit-code -- dist/');
  });
});

describe('the release workflow', () => {
  const { workflow } = load('.github/workflows/release.yml');
  const tagging = stepsOf(workflow).find((s) => s.name === 'Tag vX.Y.Z and move vX');

  it('writes tags only in its own job, and passes the version through the environment', () => {
    expect(workflow.jobs.release.permissions).toEqual({ contents: 'write' });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template.
    expect(tagging.env).toEqual({ VERSION: '${{ inputs.version }}' });
  });

  it('tags vX.Y.Z once and moves the major tag vX (its script run against a local origin)', () => {
    const base = mkdtempSync(join(tmpdir(), 'so-release-'));
    const origin = join(base, 'origin.git');
    const work = join(base, 'work');
    const sh = (cwd: string, script: string, env: Record<string, string> = {}) =>
      spawnSync('bash', ['-c', script], {
        cwd,
        env: { ...gitEnv(base), ...env },
        encoding: 'utf8',
      });
    try {
      sh(base, `git init -q --bare ${origin} && git clone -q ${origin} ${work}`);
      const commit = (msg: string) =>
        sh(work, `git commit -q --allow-empty -m ${msg} && git push -q origin HEAD:main`);
      const tagOf = (tag: string) => sh(work, `git rev-list -n1 ${tag}`).stdout.trim();
      const release = (version: string) => sh(work, tagging.run, { VERSION: version });
      commit('one');
      expect(release('1.2.3').status).toBe(0);
      sh(work, 'git fetch -q --tags --force origin');
      const head = sh(work, 'git rev-parse HEAD').stdout.trim();
      expect([tagOf('v1.2.3'), tagOf('v1')]).toEqual([head, head]);

      const again = release('1.2.3');
      expect(again.status).not.toBe(0);
      expect(again.stdout).toContain('::error::v1.2.3 already exists; a release tag never moves');
      const bad = release('v1.3');
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toContain("::error::version must be X.Y.Z, got 'v1.3'");

      commit('two');
      expect(release('1.3.0').status).toBe(0);
      sh(work, 'git fetch -q --tags --force origin');
      const next = sh(work, 'git rev-parse HEAD').stdout.trim();
      expect(tagOf('v1')).toBe(next);
      expect(tagOf('v1.2.3')).toBe(head);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

/** git with no user config of the machine, an identity, and a home of its own. */
function gitEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
}
