import { RUN_FILES, STEPS, type StepId } from './catalog.js';
import { type GateSpec, gateSpecs, planKey } from './gates.js';
import { readReport } from './inputs.js';
import { readSpecs } from './picks.js';
import type { ChainDeps } from './ports.js';
import {
  analysisFrontmatter,
  benchFrontmatter,
  functionalityFrontmatter,
  testsVerdictFrontmatter,
  verdictFrontmatter,
} from './reports.js';
import type { ChainState } from './state.js';
import { buildPlan, renderBuildPlan } from './steps/write-tests.js';

/** What the driver does next: run a step, ask a gate, or finish the run. */
export type NextAction =
  | { kind: 'step'; step: StepId; why: string }
  | { kind: 'gate'; step: StepId; gate: GateSpec }
  | { kind: 'finish'; status: 'done' | 'stopped'; reason: string };

const TESTS_REJECTED_TWICE: NextAction = {
  kind: 'finish',
  status: 'stopped',
  reason: 'the test validator rejected probes in two rounds in a row; the probes need a human look',
};

/** The direct inputs of each step, for staleness (docs/chain.md). */
export const STEP_INPUTS: Readonly<Record<StepId, readonly string[]>> = {
  functionality: [RUN_FILES.vendored, RUN_FILES.intent],
  submissions: [STEPS.functionality.report],
  'design-tests': [STEPS.functionality.report, RUN_FILES.intent],
  'write-tests': [],
  'validate-tests': [RUN_FILES.tests],
  bench: [RUN_FILES.tests, RUN_FILES.vendored, RUN_FILES.improved, STEPS['validate-tests'].report],
  analyze: [STEPS.bench.report],
  improve: [STEPS.analyze.report],
  validate: [STEPS.improve.report],
};

/**
 * Walks the steps in order (docs/chain.md): a step runs when its output is missing or stale or it
 * has pending directives; gates open where a human must decide; loop limits end the run.
 */
export async function decideNext(deps: ChainDeps, state: ChainState): Promise<NextAction> {
  const { store } = deps;
  const needs = async (step: StepId): Promise<string | null> => {
    if ((state.directives[step] ?? []).length > 0) return 'directives pending';
    const report = STEPS[step].report;
    if (!(await store.exists(report))) return 'not run yet';
    if (await store.isStale([report], [...STEP_INPUTS[step]])) return 'an input changed';
    return null;
  };
  const step = (id: StepId, why: string): NextAction => ({ kind: 'step', step: id, why });

  const why01 = await needs('functionality');
  if (why01) return step('functionality', why01);
  const f01 = await readReport(store, STEPS.functionality.report, functionalityFrontmatter);
  if (f01 === null) return step('functionality', 'not run yet');
  if (f01.data.likely_wrapper && state.wrapper === null) {
    return {
      kind: 'gate',
      step: 'functionality',
      gate: gateSpecs.wrapper(f01.data.wrapper_points_to),
    };
  }
  if (state.upstream === null) {
    return {
      kind: 'gate',
      step: 'functionality',
      gate: gateSpecs.upstreamIntent(f01.data.pr_submission_intent, deps.config.upstream.submit),
    };
  }
  if (state.upstream) {
    const why02 = await needs('submissions');
    if (why02) return step('submissions', why02);
  }

  const why03 = await needs('design-tests');
  if (why03) return step('design-tests', why03);
  const specs = await readSpecs(store);
  if (!specs.some((s) => s.picked) || state.picks_pending) {
    return {
      kind: 'gate',
      step: 'design-tests',
      gate: gateSpecs.picks(deps.config.picks.default_top),
    };
  }

  // Rejections come back to step 4 as directives, so this is checked before the build plan.
  if (state.rejected_rounds >= 2) return TESTS_REJECTED_TWICE;
  const plan = await buildPlan(store, state.directives['write-tests'] ?? []);
  if (plan.write.length > 0 || !(await store.exists(RUN_FILES.suite))) {
    if (state.build_plan_approved !== planKey(plan)) {
      return {
        kind: 'gate',
        step: 'write-tests',
        gate: gateSpecs.buildPlan(renderBuildPlan(plan)),
      };
    }
    return step(
      'write-tests',
      plan.write.length > 0 ? `${plan.write.length} probes to write` : 'no suite yet',
    );
  }

  const why05 = await needs('validate-tests');
  if (why05) return step('validate-tests', why05);
  const v05 = await readReport(store, STEPS['validate-tests'].report, testsVerdictFrontmatter);
  if (v05 && !v05.data.all_probes_approved) {
    if (state.rejected_rounds >= 2) return TESTS_REJECTED_TWICE;
    return step('write-tests', 'rejected probes to rewrite');
  }

  const why06 = await needs('bench');
  if (why06) return step('bench', why06);
  const b06 = await readReport(store, STEPS.bench.report, benchFrontmatter);
  if (b06 === null) return step('bench', 'not run yet');
  // A directive for the improvement loop is a human asking for another round: no limit ends it.
  const steered = (['analyze', 'improve', 'validate'] as const).some(
    (id) => (state.directives[id] ?? []).length > 0,
  );
  const stop = steered ? null : loopLimit(deps, state, b06.data);
  if (stop) return stop;

  const why07 = await needs('analyze');
  if (why07) return step('analyze', why07);
  const a07 = await readReport(store, STEPS.analyze.report, analysisFrontmatter);
  if (a07 && !a07.data.has_structural_weakness) {
    return {
      kind: 'finish',
      status: 'stopped',
      reason: 'the analysis found no structural weakness to address',
    };
  }

  if (state.revisions > deps.loop.maxRevisions) {
    return {
      kind: 'gate',
      step: 'validate',
      gate: gateSpecs.verdict(
        'needs-revision',
        `${deps.loop.maxRevisions} revision rounds (max_revisions) did not satisfy the validator.`,
      ),
    };
  }
  const why08 = await needs('improve');
  if (why08) return step('improve', why08);
  const why09 = await needs('validate');
  if (why09) return step('validate', why09);
  const v09 = await readReport(store, STEPS.validate.report, verdictFrontmatter);
  const verdict = v09?.data.verdict ?? 'reject';
  if (verdict === 'reject') {
    return {
      kind: 'gate',
      step: 'validate',
      gate: gateSpecs.verdict(verdict, 'the proposal was rejected.'),
    };
  }
  if (verdict === 'needs-revision') {
    // Reaching here means the verdict left no directive for the optimizer to act on.
    return {
      kind: 'gate',
      step: 'validate',
      gate: gateSpecs.verdict(
        verdict,
        'the validator asked for a revision without findings to act on.',
      ),
    };
  }
  // An approved diff changed improved-skill/, so the bench is stale and ran above; reaching
  // here means the bench did not pick it up, which only happens when nothing changed.
  return {
    kind: 'finish',
    status: 'stopped',
    reason: 'the approved improvement changed nothing to bench',
  };
}

/**
 * Threshold, iterations, convergence and the all-pass gate, checked after each bench. A bench whose
 * candidate was not kept measured a skill that was then discarded: its rate and all-pass say
 * nothing about the skill kept, so only the kept skill's rate counts.
 */
function loopLimit(
  deps: ChainDeps,
  state: ChainState,
  bench: { all_pass: boolean; pass_rate: number | null; accepted: boolean | null },
): NextAction | null {
  const { threshold, maxIterations } = deps.loop;
  const discarded = state.benches.at(-1)?.kept === false;
  if (bench.all_pass && !discarded) {
    return { kind: 'gate', step: 'bench', gate: gateSpecs.allPass() };
  }
  const rate = keptRates(state.benches).at(-1) ?? 0;
  if (rate >= threshold) {
    return {
      kind: 'finish',
      status: 'done',
      reason: `pass rate ${rate}% reached the threshold of ${threshold}%`,
    };
  }
  const iterations = state.benches.length - 1;
  if (iterations >= maxIterations) {
    return {
      kind: 'finish',
      status: 'stopped',
      reason: `max_iterations (${maxIterations}) reached at ${rate}%`,
    };
  }
  if (converged(state)) {
    return {
      kind: 'finish',
      status: 'stopped',
      reason: 'converged: no more than 2 points of gain over the last 3 benches',
    };
  }
  return null;
}

/**
 * The pass rate of the skill kept after each bench: a bench whose candidate was discarded
 * restored the kept skill, so the kept rate stands.
 */
export function keptRates(benches: readonly ChainState['benches'][number][]): number[] {
  const rates: number[] = [];
  for (const bench of benches) {
    const previous = rates.at(-1);
    rates.push(!bench.kept && previous !== undefined ? previous : (bench.pass_rate ?? 0));
  }
  return rates;
}

/** No more than 2 points of gain across the last 3 benches of the kept skill (docs/chain.md). */
export function converged(state: ChainState): boolean {
  const last = keptRates(state.benches).slice(-3);
  if (last.length < 3) return false;
  return Math.max(...last) - (last[0] as number) <= 2;
}
