import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFrontmatter } from '../../src/bench/frontmatter.js';
import { testsVerdictFrontmatter } from '../../src/chain/reports.js';
import {
  applyVerdictsToState,
  CHECKS,
  gatherValidateProbeInputs,
  renderValidateProbePrompt,
  runValidateTests,
  type ValidatorOutput,
} from '../../src/chain/steps/validate-tests.js';
import { buildPlan } from '../../src/chain/steps/write-tests.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { expectOnly, HELDOUT_MARKERS, seedRunDir } from './firewall-fixture.js';
import { fakeBench, fakeModel, makeRun, testState } from './test-steps-fixture.js';

const sandbox = useGitSandbox();
let store: LocalRunStore;

beforeAll(async () => {
  ({ store } = await seedRunDir(sandbox.base));
});
afterAll(async () => {
  await store?.close();
});

const FIXED = 'add-entry/fixed-with-pr';
const CUT = 'release/cut-release';

describe('step 5 validate-tests: context firewall', () => {
  it("shows a validator only its probe's folder, 01 and the vendored skill", async () => {
    const [input] = await gatherValidateProbeInputs(store, [FIXED], ['be strict on dates']);
    if (input === undefined) throw new Error('no validator input');
    const prompt = await renderValidateProbePrompt(input);
    const text = `${prompt.shared}\n${prompt.task}`;
    const dir = `tests/${FIXED}`;
    expectOnly(
      text,
      [
        '01-functionality.md',
        'intent.md',
        'vendored-skill/SKILL.md',
        'vendored-skill/reference/types.md',
        `${dir}/probe.yaml`,
        `${dir}/workspace/CHANGELOG.md`,
        `${dir}/grader.mjs`,
        `${dir}/smoke/good/CHANGELOG.md`,
        `${dir}/smoke/bad/CHANGELOG.md`,
      ],
      [...HELDOUT_MARKERS, 'VISIBLE_TRIAL_1', CUT],
    );
    expect(text).toContain('be strict on dates');
    expect(prompt.task).toContain(FIXED);
    expect(prompt.shared).not.toContain(FIXED);
  });
});

describe('step 5 validate-tests: reads', () => {
  it('asks the store for every probe folder at once instead of one read after another', async () => {
    let inFlight = 0;
    let most = 0;
    let listing = 0;
    let mostListing = 0;
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (
          typeof value !== 'function' ||
          !['read', 'readBytes', 'list', 'exists'].includes(String(key))
        ) {
          return typeof value === 'function' ? value.bind(target) : value;
        }
        const isList = key === 'list';
        return async (...args: unknown[]) => {
          inFlight++;
          most = Math.max(most, inFlight);
          if (isList) mostListing = Math.max(mostListing, ++listing);
          try {
            return await value.apply(target, args);
          } finally {
            inFlight--;
            if (isList) listing--;
          }
        };
      },
    });
    const inputs = await gatherValidateProbeInputs(counted, [FIXED, CUT], []);
    expect(inputs).toEqual(await gatherValidateProbeInputs(store, [FIXED, CUT], []));
    expect(inputs.map((i) => i.probe.files.length)).toEqual([6, 6]);
    // 01, the skill listing, the intent and both probe folders are asked for together.
    expect(most).toBeGreaterThanOrEqual(5);
    expect(mostListing).toBe(3);
  });
});

const allChecks = (over: Partial<ValidatorOutput['checks']> = {}): ValidatorOutput['checks'] => ({
  ...(Object.fromEntries(CHECKS.map((c) => [c, true])) as ValidatorOutput['checks']),
  ...over,
});

/** A validator answering per probe id (read from the per-call part of its prompt). */
function validator(answers: Record<string, ValidatorOutput>) {
  return fakeModel({
    'test-validator': (prompt) => {
      const id = /The probe to review: `([^`]+)`/.exec(prompt.task)?.[1] ?? '';
      const answer = answers[id];
      if (answer === undefined) throw new Error(`no canned verdict for ${id}`);
      return answer;
    },
  });
}

const approve: ValidatorOutput = {
  checks: allChecks(),
  verdict: 'approved',
  reasons: ['Sound probe.'],
};

describe('runValidateTests', () => {
  it('approves a probe only when smoke and validator agree; a rejection becomes a directive', async () => {
    const { model, calls } = validator({
      [FIXED]: approve,
      [CUT]: approve,
    });
    const { bench, smokes } = fakeBench({
      [CUT]: { ok: false, reasons: [`${CUT}/smoke/bad: grader passed it (expected fail)`] },
    });
    const state = testState({
      rejected_rounds: 1,
      directives: {
        'write-tests': [`${CUT}: an older rejection`, 'keep workspaces small'],
        bench: ['untouched'],
      },
    });
    const run = await makeRun(store, { model, bench, state });
    const outcome = await runValidateTests(run);

    expect(calls).toHaveLength(2);
    expect(smokes.map((s) => s.id).sort()).toEqual([FIXED, CUT]);
    for (const s of smokes) {
      expect(s.dir).toBe(store.absolutePath(`tests/${s.id}`));
      expect(s.graderPath).toBe(store.absolutePath(`tests/${s.id}/grader.mjs`));
      expect(s.graderDependencies).toEqual({});
      await access(s.graderPath);
    }

    const [change] = outcome.changes;
    expect(change?.path).toBe('05-tests-verdict.md');
    const report = parseFrontmatter(
      (change as { content: string }).content,
      '05',
      testsVerdictFrontmatter,
    );
    expect(report.data).toEqual({
      all_probes_approved: false,
      probes: { [FIXED]: 'approved', [CUT]: 'rejected' },
    });
    expect(report.body).toContain(`| \`${CUT}\` | failed | approved | **rejected** |`);
    expect(report.body).toContain('grader passed it (expected fail)');
    expect(outcome.result).toBe('1 of 2 probes approved, 1 sent back to write-tests');

    const next = outcome.update?.(state);
    expect(next?.rejected_rounds).toBe(2);
    expect(next?.directives.bench).toEqual(['untouched']);
    expect(next?.directives['write-tests']).toEqual([
      'keep workspaces small',
      `${CUT}: smoke check: ${CUT}/smoke/bad: grader passed it (expected fail); Sound probe.`,
    ]);

    // Step 4 reads that directive as a rewrite of exactly that probe.
    const plan = await buildPlan(store, next?.directives['write-tests'] ?? []);
    expect(plan.write.map((p) => [p.id, p.reason])).toEqual([[CUT, 'directive']]);
    expect(plan.general).toEqual(['keep workspaces small']);
  });

  it('rejects a probe the validator approved with a failing check', async () => {
    const { model } = validator({
      [FIXED]: { ...approve, checks: allChecks({ grader_is_fair: false }) },
      [CUT]: {
        checks: allChecks({ not_trivially_passable: false }),
        verdict: 'rejected',
        reasons: ['The starting\n workspace already passes.'],
      },
    });
    const outcome = await runValidateTests(await makeRun(store, { model }));
    const next = outcome.update?.(testState());
    expect(next?.directives['write-tests']).toEqual([
      `${FIXED}: failed checks: grader_is_fair; Sound probe.`,
      `${CUT}: failed checks: not_trivially_passable; The starting workspace already passes.`,
    ]);
    expect(next?.rejected_rounds).toBe(1);
  });

  it('resets the rejected rounds and drops stale rejections when every probe is approved', async () => {
    const { model, stats } = validator({ [FIXED]: approve, [CUT]: approve });
    const outcome = await runValidateTests(
      await makeRun(store, { model, config: { concurrency: 1 } }),
    );
    expect(stats.maxInFlight).toBe(1);
    expect(outcome.result).toBe('all 2 probes approved');
    const report = parseFrontmatter(
      (outcome.changes[0] as { content: string }).content,
      '05',
      testsVerdictFrontmatter,
    );
    expect(report.data.all_probes_approved).toBe(true);
    const next = outcome.update?.(
      testState({ rejected_rounds: 1, directives: { 'write-tests': [`${FIXED}: old`] } }),
    );
    expect(next?.rejected_rounds).toBe(0);
    expect(next?.directives).toEqual({});
  });

  it('runs validators in parallel up to the concurrency limit', async () => {
    const { model, stats } = fakeModel({ 'test-validator': () => approve }, { holdFor: 2 });
    await runValidateTests(await makeRun(store, { model, config: { concurrency: 4 } }));
    expect(stats.maxInFlight).toBe(2);
  });

  it("smoke-checks with the suite's grader dependencies, so hand-written graders can import them", async () => {
    const original = (await store.read('tests/suite.yml')) ?? '';
    await store.commit('deps', [
      { path: 'tests/suite.yml', content: `${original}grader_dependencies: { fflate: 0.8.3 }\n` },
    ]);
    try {
      const { model } = validator({ [FIXED]: approve, [CUT]: approve });
      const { bench, smokes } = fakeBench();
      await runValidateTests(await makeRun(store, { model, bench }));
      expect(smokes.map((s) => s.graderDependencies)).toEqual([
        { fflate: '0.8.3' },
        { fflate: '0.8.3' },
      ]);
    } finally {
      await store.commit('restore', [{ path: 'tests/suite.yml', content: original }]);
    }
  });
});

describe('applyVerdictsToState', () => {
  it('keeps directives for probes not judged in this round', () => {
    const state = testState({ directives: { 'write-tests': ['other/probe: still open'] } });
    const next = applyVerdictsToState(state, []);
    expect(next.directives['write-tests']).toEqual(['other/probe: still open']);
  });
});
