import { describe, expect, it } from 'vitest';
import { benchGain } from '../../src/chain/publish.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { type Outcome, runScenario, type TrialAsk } from './verdict-harness.js';

/**
 * What ends a run short of an improvement, and what the report then says: a skill no better than
 * no skill, an all-pass first bench, the budget, convergence, an invalid bench, and a second
 * candidate after a rejection (docs/decision-rule.md).
 */

const sandbox = useGitSandbox();

const firstN = (a: TrialAsk, n: number): Outcome => (a.trial <= n ? 'pass' : 'fail');

describe('runs that end without a publishable improvement', () => {
  it('says the skill adds nothing measurable when it does not beat no skill, and does not publish', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'pass';
        if (a.bench === 0) return a.heldout ? 'fail' : 'pass';
        return 'pass';
      },
      { threshold: 100 },
    );
    expect(run.state.benches[1]?.verdict).toBe('improved');
    expect(run.state.benches[1]?.beats_baseline).toBe(false);
    expect(run.state.decisions.at(-1)).toMatchObject({
      gate: 'baseline',
      answer: 'no-publish',
      by: 'autopilot',
    });
    const gain = benchGain(run.state);
    expect('reason' in gain ? gain.reason : '').toContain(
      'the skill adds nothing measurable on these probes',
    );
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('**The skill adds nothing measurable on these probes**');
    expect(report).toMatch(/Probes that pass without the skill .*`release\/cut-patch-release`/);
  }, 120_000);

  it('claims no improvement when every probe passes at the first bench', async () => {
    const run = await runScenario(sandbox.base, (a) => (a.baseline ? 'fail' : 'pass'));
    expect(run.state.status).toBe('done');
    expect(run.state.stop_reason).toBe('every probe passes; accepted at the gate');
    expect(run.state.benches.map((b) => b.verdict)).toEqual([null]);
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('No change was shown to improve the skill at 95% confidence');
    expect('reason' in benchGain(run.state)).toBe(true);
  }, 120_000);

  it('stops launching trials when the budget would be exceeded and reports what was measured', async () => {
    const run = await runScenario(sandbox.base, () => 'pass', { budget_usd: 2 }, 0.25);
    expect(run.state.status).toBe('stopped');
    expect(run.state.stop_reason).toMatch(
      /^cost budget reached mid-bench: \d+ trials ran and \d+ were not started, so this bench gives no verdict$/,
    );
    expect(run.state.cost_usd).toBeLessThanOrEqual(2);
    expect(run.asks.length).toBeLessThan(30);
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('**Outcome:** cost budget reached mid-bench');
  }, 120_000);

  it('stops as converged after three kept benches within 2 points', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => (a.baseline ? 'fail' : a.heldout ? firstN(a, 1) : firstN(a, 2)),
      { max_iterations: 5, max_extra_trials: 0 },
    );
    expect(run.state.stop_reason).toBe(
      'converged: no more than 2 points of gain over the last 3 benches',
    );
    expect(run.state.benches.map((b) => [b.verdict, b.kept])).toEqual([
      [null, true],
      ['inconclusive', false],
      ['inconclusive', false],
    ]);
  }, 90_000);

  it('gives no verdict from a mostly-error bench: retries the errors once, then stops with a named error', async () => {
    const run = await runScenario(sandbox.base, (a) =>
      a.probe === 'add-entry/fixed-with-pr' && a.trial === 1 && !a.baseline ? 'pass' : 'error',
    );
    expect(run.asks.filter((a) => a.retry).length).toBe(29);
    expect(run.state.status).toBe('stopped');
    expect(run.state.stop_reason).toMatch(
      /^bench invalid after retrying 29 errored trials once: 29 of 30 trials errored \(96\.7%\), above max_error_rate 10\.0%/,
    );
    expect(run.state.benches[0]?.verdict).toBeNull();
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('**Outcome:** bench invalid');
    expect(report).not.toContain('reached the threshold');
  }, 120_000);

  it('compares a second candidate with the kept skill, not with the rejected one', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (!a.heldout) return firstN(a, 2);
        return firstN(a, [2, 0, 1][a.bench] ?? 0);
      },
      { max_iterations: 2, max_extra_trials: 0 },
    );
    const [, rejected, second] = run.state.benches;
    expect(rejected?.verdict).toBe('rejected');
    expect(second?.verdict).not.toBe('improved');
    expect(second?.kept).toBe(false);
    expect(second?.verdict_reason).toContain('66.7% (2/3) → 33.3% (1/3)');
    const bench06 = (await run.read('06-bench-summary.md')) ?? '';
    expect(bench06).toContain(`kept_results_dir: ${run.state.benches[0]?.results_dir}`);
    expect('reason' in benchGain(run.state)).toBe(true);
  }, 90_000);
});
