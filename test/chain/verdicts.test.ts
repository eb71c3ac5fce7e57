import { describe, expect, it } from 'vitest';
import { benchGain } from '../../src/chain/publish.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { type Outcome, runScenario, type TrialAsk } from './verdict-harness.js';

/**
 * The verdicts a maintainer reads, end to end through the real driver, steps, store and report,
 * with only the trial outcomes prescribed (docs/decision-rule.md). The example suite has four
 * visible probes and one held-out probe.
 */

const sandbox = useGitSandbox();

const firstN = (a: TrialAsk, n: number): Outcome => (a.trial <= n ? 'pass' : 'fail');
const ONE_CANDIDATE = { max_iterations: 1 };

describe('a candidate is kept only when the held-out probes show it better beyond noise', () => {
  it('keeps a real improvement and states it with its evidence', async () => {
    const run = await runScenario(sandbox.base, (a) => {
      if (a.baseline) return 'fail';
      if (a.bench === 0) return a.heldout ? 'fail' : firstN(a, 2);
      return 'pass';
    });
    expect(run.state.benches.map((b) => [b.verdict, b.kept])).toEqual([
      [null, true],
      ['improved', true],
    ]);
    expect(run.state.status).toBe('done');
    expect(run.state.weaknesses_addressed.length).toBeGreaterThan(0);
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('with the verdict *improved* at 95% confidence');
    expect(report).toMatch(/\| 1 \| `improved-skill` \| 15 \| 0 \| 100% \[\d+(\.\d)?–100\]/);
    expect(report).toContain('held-out pass rate rose beyond noise: 0.0% (0/3) → 100.0% (3/3)');
    expect(report).toContain('**blue line**');
    const gain = benchGain(run.state);
    expect('reason' in gain ? gain.reason : 'publishable').toBe('publishable');
  }, 120_000);

  it('rejects an overfit candidate: visible probes up, held-out down', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (a.bench === 0) return a.heldout ? 'pass' : firstN(a, 1);
        return a.heldout ? 'fail' : 'pass';
      },
      ONE_CANDIDATE,
    );
    const last = run.state.benches[1];
    expect(last?.verdict).toBe('rejected');
    expect(last?.kept).toBe(false);
    expect(last?.verdict_reason).toContain('held-out pass rate fell beyond noise');
    expect(await run.store.list('improved-skill')).toEqual([]);
    expect(run.state.weaknesses_addressed).toEqual([]);
    expect(run.state.discarded).toHaveLength(1);
    const report = (await run.read('report.md')) ?? '';
    expect(report).toContain('No change was shown to improve the skill');
    expect(report).toContain('## Discarded candidates');
    expect(report).toMatch(/- Bench 1 \(addressing .*\): .*held-out pass rate fell beyond noise/);
    expect('reason' in benchGain(run.state)).toBe(true);
  }, 120_000);

  it('calls +1 of 15 inconclusive and keeps the skill it had', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (a.heldout) return firstN(a, a.bench === 0 ? 2 : 3);
        return firstN(a, 3);
      },
      { ...ONE_CANDIDATE, trials: 5, max_extra_trials: 0 },
    );
    const last = run.state.benches[1];
    expect(last?.verdict).toBe('inconclusive');
    expect(last?.kept).toBe(false);
    expect(last?.verdict_reason).toContain(
      'held-out change is within noise: 40.0% (2/5) → 60.0% (3/5)',
    );
    expect(run.asks.some((a) => a.kept)).toBe(false);
    expect('reason' in benchGain(run.state)).toBe(true);
  }, 120_000);

  it('with adaptive trials samples the deciding probes on both sides, then decides', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (!a.heldout) return firstN(a, 3);
        if (a.kept) return 'fail';
        if (a.bench === 0) return firstN(a, 2);
        return a.trial <= 5 ? firstN(a, 3) : 'pass';
      },
      { ...ONE_CANDIDATE, trials: 5, max_extra_trials: 10 },
    );
    const last = run.state.benches[1];
    const keptExtra = run.asks.filter((a) => a.kept);
    expect(keptExtra.length).toBeGreaterThan(0);
    expect(keptExtra.every((a) => a.heldout && a.trial > 5)).toBe(true);
    expect(last?.extra_trials).toBe(keptExtra.length);
    expect(last?.verdict).toBe('improved');
    expect(last?.kept).toBe(true);
  }, 120_000);

  it('rejects when one probe falls 3/3 → 1/3 although the mean rose', async () => {
    const WEAK = 'add-entry/fixed-with-pr';
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (a.bench === 0) return a.probe.endsWith(WEAK) ? 'pass' : firstN(a, 1);
        return a.probe.endsWith(WEAK) ? firstN(a, 1) : 'pass';
      },
      ONE_CANDIDATE,
    );
    const last = run.state.benches[1];
    expect(last?.pass_rate).toBeGreaterThan(run.state.benches[0]?.pass_rate ?? 100);
    expect(last?.verdict).toBe('rejected');
    expect(last?.verdict_reason).toMatch(/probe '.*fixed-with-pr' .* regressed beyond noise/);
    expect(run.state.status).toBe('stopped');
  }, 120_000);

  it('counts timeouts as failures, so a skill that makes the agent hang is rejected', async () => {
    const run = await runScenario(
      sandbox.base,
      (a) => {
        if (a.baseline) return 'fail';
        if (a.bench === 0) return a.heldout ? firstN(a, 2) : 'pass';
        return a.heldout ? 'pass' : 'timeout';
      },
      { ...ONE_CANDIDATE, threshold: 100 },
    );
    const last = run.state.benches[1];
    expect(last?.errored).toBe(0);
    expect(last?.pass_rate).toBe(20);
    expect(last?.verdict).toBe('rejected');
  }, 120_000);
});
