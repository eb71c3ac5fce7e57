import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChainModel, Role, RolePrompt } from '../../src/chain/model.js';
import {
  gatherReviewInput,
  type ReviewOutput,
  renderReviewPrompt,
  writeNonConvergenceReview,
} from '../../src/chain/review.js';
import { type BenchPoint, benchPointSchema } from '../../src/chain/state.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, seedRunDir } from './firewall-fixture.js';

const sandbox = useGitSandbox();
let store: LocalRunStore;
const stores: LocalRunStore[] = [];

beforeAll(async () => {
  ({ store } = await seedRunDir(sandbox.base));
  stores.push(store);
});
afterAll(async () => {
  for (const s of stores) await s.close();
});

const point = (iteration: number, pass: number, heldout: number, accepted: boolean | null) =>
  benchPointSchema.parse({
    iteration,
    skill: iteration === 0 ? 'vendored-skill' : 'improved-skill',
    pass_rate: pass,
    heldout_pass_rate: heldout,
    min_probe_pass_rate: 33.3,
    baseline_pass_rate: iteration === 0 ? 20 : null,
    accepted,
    results_dir: `06-bench-results/RESULTS_DIR_SECRET_${iteration}`,
    kept: accepted !== false,
  }) satisfies BenchPoint;

const benches = [point(0, 50, 50, null), point(1, 61.5, 50, false), point(2, 62, 50, false)];

const answer: ReviewOutput = {
  why_it_stalled: 'Gains on visible probes\ndid not carry over to held-out ones.',
  evidence: ['Held-out pass rate flat at 50%'],
  decisions: [
    {
      question: 'Keep the improved skill?',
      options: [
        { option: 'Keep it', consequence: 'Visible gains stay, generality unproven' },
        { option: 'Drop it', consequence: 'Back to the vendored skill' },
      ],
      recommendation: 'Re-run test design with harder release probes first.',
    },
  ],
};

function fakeModel(out: unknown) {
  const calls: Array<{ role: Role; prompt: RolePrompt }> = [];
  const model: ChainModel = {
    async call(role, prompt, output) {
      calls.push({ role, prompt });
      return output.schema.parse(out);
    },
  };
  return { model, calls };
}

describe('non-convergence reviewer: context firewall', () => {
  it('renders the progression, stop reason, 01, the latest 07 and 09 and the intent only', async () => {
    const input = await gatherReviewInput(store, {
      stopReason: 'converged: +1.0 points over the last 3 benches',
      benches,
      threshold: 80,
    });
    const prompt = await renderReviewPrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    expectOnly(
      text,
      ['01-functionality.md', '07-analysis.md', '09-validator-verdict.md', 'intent.md'],
      [...HELDOUT_MARKERS, 'RESULTS_DIR_SECRET', 'VISIBLE_TRIAL'],
    );
    expect(text).toContain('converged: +1.0 points over the last 3 benches');
    expect(text).toContain('| 1 | `improved-skill` | 61.5% | 50.0% | 33.3% | – | no |');
    expect(text).toContain('80%');
  });
});

describe('writeNonConvergenceReview', () => {
  it('returns a markdown section with the progression, diagnosis and decisions', async () => {
    const { model, calls } = fakeModel(answer);
    const section = await writeNonConvergenceReview(
      { store, model },
      { stopReason: 'max iterations (3) reached', benches, threshold: 80 },
    );
    expect(calls.map((c) => c.role)).toEqual(['reviewer']);
    expect(section).toMatch(/^## Non-convergence review\n/);
    expect(section).toContain('before reaching a 80% pass rate: max iterations (3) reached.');
    expect(section).toContain('| 0 | `vendored-skill` | 50.0% | 50.0% | 33.3% | 20.0% | – |');
    expect(section).toContain('Gains on visible probes did not carry over to held-out ones.');
    expect(section).toContain('1. **Keep the improved skill?**');
    expect(section).toContain('   - *Drop it* — Back to the vendored skill');
    expect(section).toContain('   - Recommendation: Re-run test design');
    expect(section).not.toContain('RESULTS_DIR_SECRET');
  });

  it('works before any analysis or verdict exists, and needs at least two options per decision', async () => {
    const { store: early } = await seedRunDir(sandbox.base);
    stores.push(early);
    await early.commit('no 07/09', [
      { path: '07-analysis.md', delete: true },
      { path: '09-validator-verdict.md', delete: true },
    ]);
    const { model, calls } = fakeModel(answer);
    await writeNonConvergenceReview(
      { store: early, model },
      { stopReason: 'error budget spent', benches: [], threshold: 70 },
    );
    const text = calls[0]?.prompt.shared ?? '';
    expect(text).toContain('(no analysis yet)');
    expect(text).toContain('(no verdict yet)');
    expect(text).toContain('(no bench ran)');

    const oneOption = {
      ...answer,
      decisions: [{ ...answer.decisions[0], options: answer.decisions[0]?.options.slice(0, 1) }],
    };
    await expect(
      writeNonConvergenceReview(
        { store: early, model: fakeModel(oneOption).model },
        { stopReason: 'x', benches, threshold: 70 },
      ),
    ).rejects.toThrow(/options/);
  });
});
