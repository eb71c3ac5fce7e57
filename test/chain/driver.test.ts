import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HARDER_DIRECTIVE } from '../../src/chain/gates.js';
import { STOPPED_EXIT_CODE } from '../../src/cli/chain-command.js';
import {
  chainState,
  cli,
  commitLabels,
  demoRules,
  git,
  head,
  listRunFiles,
  makeRepo,
  type Rule,
  releasePassesWithSkill,
  ruleNamed,
  SKILL,
  showRunFile,
  smallDesign,
  toolInput,
  withInput,
  writeScript,
} from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';

/**
 * The driver's failure handling and loops (docs/chain.md), driven through the CLI against variants
 * of the demo's scripted model on small suites (one trial per probe).
 */

const sandbox = useGitSandbox();

/** Visible fixed-with-pr and cut-minor-release, held-out cut-patch-release. */
const THREE = ['fixed-with-pr', 'cut-minor-release', 'cut-patch-release'];

/** The demo's rules with `name` answering `input` instead (same tool, same conditions). */
function replaced(rules: Rule[], name: string, input: Record<string, unknown>): Rule[] {
  const rule = ruleNamed(rules, name);
  return rules.map((r) => (r === rule ? withInput(rule, input, name) : r));
}

const since = (labels: string[], before: string[]) => labels.slice(before.length);

describe('failed steps', () => {
  it('fails a step whose model output breaks its schema twice without writing it, and stops after three', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = demoRules();
    const script = writeScript(
      sandbox.base,
      replaced(rules, 'design-tests', { rationale: 'Probes.', functionalities: 'none' }),
    );

    expect((await cli(repo, 'run', SKILL, '--scripted', script)).code).toBe(0);
    const before = head(repo);
    const labelsBefore = commitLabels(repo);
    const failed = await cli(repo, 'answer', 'no', '--scripted', script);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^error: step 03 design-tests failed: The test-designer model returned output that does not pass its checks, 2 times .*functionalities/m,
    );
    expect(failed.stderr).toContain('retry with: skill-optimizer run skills/keep-a-changelog');
    // The gate answer and the failure state: nothing of step 3 is on the branch.
    expect(since(commitLabels(repo), labelsBefore)).toEqual([
      'gate upstream-intent',
      '03 design-tests failed',
    ]);
    expect(git(repo, 'diff', '--name-only', before, 'skill-optimizer/keep-a-changelog')).toBe(
      '.skill-optimizer/keep-a-changelog/chain.yml',
    );
    expect(showRunFile(repo, '03-test-proposals.md')).toBeNull();
    const state = chainState(repo);
    expect(state.consecutive_failures).toBe(1);
    expect(state.last_error?.step).toBe('design-tests');
    expect(state.status).toBe('running');

    const budget = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(budget.code).toBe(STOPPED_EXIT_CODE);
    expect(budget.stdout).toMatch(
      /run stopped: error budget spent: 3 consecutive failed steps \(last: 03 design-tests: The test-designer model/,
    );
    const labels = commitLabels(repo);
    expect(labels.filter((l) => l === '03 design-tests failed')).toHaveLength(3);
    expect(labels.at(-1)).toBe('report');
    expect(labels).not.toContain('03 design-tests');
    expect(showRunFile(repo, 'report.md')).toContain('**Outcome:** error budget spent');
    expect(chainState(repo).status).toBe('stopped');
  });

  it('stops when the test validator rejects probes in two rounds in a row', async () => {
    const repo = makeRepo(sandbox.base, { config: { heldout_share: 0 } });
    const rules = smallDesign(demoRules(), ['fixed-with-pr', 'cut-minor-release']);
    const review = ruleNamed(rules, 'review release/cut-minor-release');
    const input = structuredClone(toolInput(review)) as {
      checks: Record<string, boolean>;
      verdict: string;
      reasons: string[];
    };
    input.checks.grader_is_fair = false;
    input.verdict = 'rejected';
    input.reasons = ['The grader insists on one exact date format the prompt never asks for.'];
    const script = writeScript(
      sandbox.base,
      replaced(rules, 'review release/cut-minor-release', input),
    );

    const run = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(run.code).toBe(STOPPED_EXIT_CODE);
    expect(run.stdout).toContain(
      'run stopped: the test validator rejected probes in two rounds in a row',
    );
    expect(commitLabels(repo).slice(-6)).toEqual([
      '04 write-tests',
      '05 validate-tests',
      'gate build-plan',
      '04 write-tests',
      '05 validate-tests',
      'report',
    ]);
    expect(showRunFile(repo, '06-bench-summary.md')).toBeNull();
    const verdict = showRunFile(repo, '05-tests-verdict.md') ?? '';
    expect(verdict).toContain('all_probes_approved: false');
    expect(verdict).toContain('one exact date format');
  });
});

describe('re-benching an unchanged skill', () => {
  it('measures again without judging it an improvement or a regression', async () => {
    const repo = makeRepo(sandbox.base);
    const script = writeScript(sandbox.base, demoRules());
    const done = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(done.stdout).toContain('verdict improved: candidate kept');
    const again = await cli(repo, 'rerun', '6', '--scripted', script);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/06 bench: [\d.]+% pass/);
    expect(again.stdout).not.toContain('verdict');
    expect(showRunFile(repo, '06-bench-summary.md')).toContain('accepted: null');
    expect(listRunFiles(repo, 'improved-skill')).toContain('improved-skill/SKILL.md');
    expect(showRunFile(repo, 'improved-skill/SKILL.md')).toContain('## Cutting a release');
  });
});

describe('loops', () => {
  it('stops at max_iterations, then converges when improvements are never accepted', async () => {
    // No held-out probes: an improvement is never accepted (docs/decision-rule.md), even one that makes
    // every visible probe pass, so the skill kept stays at the first bench's rate.
    const repo = makeRepo(sandbox.base, { config: { heldout_share: 0, max_iterations: 1 } });
    const script = writeScript(sandbox.base, smallDesign(demoRules(), THREE));
    const first = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(first.code).toBe(STOPPED_EXIT_CODE);
    expect(first.stdout).toContain('06 bench: 100% pass');
    expect(first.stdout).toContain('verdict inconclusive: kept skill stays');
    expect(first.stdout).toContain('run stopped: max_iterations (1) reached at 33.3%');
    let state = chainState(repo);
    expect(state.benches.map((b) => [b.pass_rate, b.accepted])).toEqual([
      [33.3, null],
      [100, false],
    ]);
    expect(listRunFiles(repo, 'improved-skill')).toEqual([]);
    let report = showRunFile(repo, 'report.md') ?? '';
    expect(report).toContain('**Outcome:** max_iterations (1) reached at 33.3%');
    expect(report).toContain('## Why the loop stopped short');

    writeFileSync(
      join(repo, '.github', 'skill-optimizer.yml'),
      stringify({
        models: { executor: 'claude-sonnet-4-6', bench: ['claude-sonnet-4-6'] },
        trials: 1,
        heldout_share: 0,
      }),
    );
    git(repo, 'commit', '--quiet', '-am', 'Lift max_iterations');
    const again = await cli(repo, 'rerun', '7', '--scripted', script);
    expect(again.code).toBe(STOPPED_EXIT_CODE);
    expect(again.stdout).toContain(
      'run stopped: converged: no more than 2 points of gain over the last 3 benches',
    );
    state = chainState(repo);
    expect(state.benches.map((b) => b.accepted)).toEqual([null, false, false]);
    report = showRunFile(repo, 'report.md') ?? '';
    expect(report).toContain('**Outcome:** converged');
    expect(report).toContain('## Why the loop stopped short');
    expect(report).toContain('The loop stopped before the pass rate reached its threshold.');
    expect(report).toContain(
      '| 2 | `improved-skill` | 3 | 0 | 100% [43.9–100] | — | 100% | 0% | inconclusive | no (discarded) |',
    );
    expect(report).toContain(
      '- Bench 1: inconclusive — no held-out probes: visible probes alone never make an improvement',
    );
  });

  it('stops at a step boundary with the report once the cost budget is spent', async () => {
    const repo = makeRepo(sandbox.base, { config: { budget_usd: 0.001 } });
    const script = writeScript(sandbox.base, demoRules());
    const run = await cli(repo, 'run', SKILL, '--autopilot', '--scripted', script);
    expect(run.code).toBe(STOPPED_EXIT_CODE);
    expect(run.stdout).toMatch(/run stopped: cost budget of \$0\.001 spent \(\$0\.\d\d\)/);
    expect(commitLabels(repo)).toEqual(['00 vendor', '01 functionality', 'report']);
    const state = chainState(repo);
    expect(state.status).toBe('stopped');
    expect(state.cost_usd).toBeGreaterThan(0.001);
    expect(showRunFile(repo, 'report.md')).toContain('**Outcome:** cost budget of $0.001 spent');
  });

  it('opens the all-pass gate when every trial passes: harder re-runs design, accept finishes', async () => {
    const repo = makeRepo(sandbox.base);
    const rules = releasePassesWithSkill(smallDesign(demoRules(), THREE));
    const script = writeScript(sandbox.base, rules);
    expect((await cli(repo, 'run', SKILL, '--scripted', script)).code).toBe(0);
    expect((await cli(repo, 'answer', 'no', '--scripted', script)).code).toBe(0);
    expect((await cli(repo, 'approve', '--scripted', script)).code).toBe(0);
    const gate = await cli(repo, 'approve', '--scripted', script);
    expect(gate.stdout).toContain('06 bench: 100% pass');
    expect(gate.stdout).toContain('waiting at the all-pass gate (after step bench):');
    expect(gate.stdout).toContain(
      'skill-optimizer answer harder --skill skills/keep-a-changelog    # harder:',
    );

    const harder = await cli(repo, 'answer', 'harder');
    expect(harder.code).toBe(0);
    expect(harder.stdout).toContain('answered the all-pass gate: harder');
    expect(harder.stdout).toContain('recorded. Resume with: skill-optimizer run');
    let state = chainState(repo);
    expect(state.directives['design-tests']).toEqual([HARDER_DIRECTIVE]);
    expect(state.open_gate).toBeNull();

    const design = ruleNamed(rules, 'design-tests');
    const tougher = { ...toolInput(design), rationale: 'HARDER-ROUND: tougher probes.' };
    const script2 = writeScript(sandbox.base, [
      withInput(design, tougher, 'harder design', { contains: 'Propose harder probes' }),
      ...rules,
    ]);
    const resumed = await cli(repo, 'run', SKILL, '--scripted', script2);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('03 design-tests: running');
    expect(showRunFile(repo, '03-test-proposals.md')).toContain('HARDER-ROUND');
    expect(chainState(repo).directives['design-tests'] ?? []).toEqual([]);
    // New proposals are for a human to pick: the picks gate asks again before anything is built.
    expect(resumed.stdout).toContain('waiting at the picks gate');
    const repicked = await cli(repo, 'approve', '--scripted', script2);
    expect(repicked.stdout).toContain('waiting at the all-pass gate');

    const accepted = await cli(repo, 'approve');
    expect(accepted.code).toBe(0);
    state = chainState(repo);
    expect(state.status).toBe('done');
    expect(state.stop_reason).toBe('every probe passes; accepted at the gate');
    expect(state.decisions.map((d) => `${d.gate}:${d.answer}`)).toEqual([
      'upstream-intent:no',
      'picks:approve',
      'build-plan:approve',
      'all-pass:harder',
      'picks:approve',
      'all-pass:accept',
    ]);
    expect(showRunFile(repo, 'report.md')).toContain('**Outcome:** every probe passes');

    // A human asking for another analysis is heard even though every probe passes.
    const analysis = {
      summary: 'DIRECTIVE-SEEN: nothing structural is left.',
      has_structural_weakness: false,
      weaknesses: [],
    };
    const script3 = writeScript(sandbox.base, [
      withInput(ruleNamed(rules, 'analyze'), analysis, 'steered analysis', {
        contains: 'Check the held-out release again.',
      }),
      ...rules,
    ]);
    const steered = await cli(
      repo,
      'rerun',
      '7',
      '--directive',
      'Check the held-out release again.',
      '--scripted',
      script3,
    );
    expect(steered.code).toBe(0);
    expect(commitLabels(repo).slice(-3)).toEqual(['rerun analyze', '07 analyze', 'gate all-pass']);
    expect(showRunFile(repo, '07-analysis.md')).toContain('DIRECTIVE-SEEN');
  });
});
