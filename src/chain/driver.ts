import { posix } from 'node:path';
import { BudgetExceededError, SkillOptimizerError } from '../errors.js';
import { addUsage, type Usage, zeroUsage } from '../model/usage.js';
import { StaleBranchError } from '../store/errors.js';
import type { FileChange } from '../store/port.js';
import { benchPlanLine, planBenchFanOut } from './bench-plan.js';
import type { BenchProgress } from './bench-progress.js';
import { budgetedModel } from './budget.js';
import { operatorCommit, STEPS, type StepId, stepCommit } from './catalog.js';
import { GateAnswerError, gateEffect, gateSpecs, openGate } from './gates.js';
import { readIntent, readReport } from './inputs.js';
import { decideNext } from './next.js';
import { type DriverDeps, type StepOutcome, StepRefusedError, type StepRun } from './ports.js';
import { renderReport } from './report.js';
import { functionalityFrontmatter } from './reports.js';
import { writeNonConvergenceReview } from './review.js';
import {
  type BenchPoint,
  type ChainState,
  type OpenGate,
  readState,
  stateChange,
} from './state.js';
import { runAnalyze } from './steps/analyze.js';
import { runBenchStep } from './steps/bench.js';
import { runDesignTests } from './steps/design-tests.js';
import { runFunctionality } from './steps/functionality.js';
import { runImprove } from './steps/improve.js';
import { runSubmissions } from './steps/submissions.js';
import { runValidate } from './steps/validate.js';
import { runValidateTests } from './steps/validate-tests.js';
import { runWriteTests } from './steps/write-tests.js';

/** No step ever starts another: only this driver moves the chain (docs/chain.md). */
const RUNNERS: Readonly<Record<StepId, (run: StepRun) => Promise<StepOutcome>>> = {
  functionality: runFunctionality,
  submissions: runSubmissions,
  'design-tests': runDesignTests,
  'write-tests': runWriteTests,
  'validate-tests': runValidateTests,
  bench: runBenchStep,
  analyze: runAnalyze,
  improve: runImprove,
  validate: runValidate,
};

/** Three consecutive failed steps spend the error budget (docs/chain.md). */
export const ERROR_BUDGET = 3;

export class RunStateError extends SkillOptimizerError {}

export interface DriverOptions {
  /** Answer gates with their defaults for this invocation (the run's own flag also counts). */
  autopilot?: boolean;
  /** Who is driving, for decisions recorded at gates. */
  actor: string;
  /** The command that resumes the run, shown with failures and gates. */
  resumeCommand: string;
  signal?: AbortSignal;
  /** Called after every commit with a one-line description. */
  onProgress?: (line: string) => void;
  /** Called as each of step 6's trials finishes. */
  onBenchProgress?: (progress: BenchProgress) => void;
  /**
   * This job may fan step 06 out over a job matrix (the Action's chain job): a bench larger than
   * `matrix_min_trials` is planned into chain.yml and `advance` returns, status `running`.
   */
  benchMatrix?: boolean;
}

export interface DriverResult {
  status: ChainState['status'];
  message: string;
  gate: OpenGate | null;
  state: ChainState;
}

/**
 * Advances the run until a gate needs a human, the run finishes, or a step fails (without
 * autopilot). Every state change is one commit, so a crash at any point resumes from the last
 * committed step.
 */
export async function advance(given: DriverDeps, opts: DriverOptions): Promise<DriverResult> {
  const tracker = spendTracker(given);
  // Every subagent call checks the run's spend (committed + not yet committed) before it is made.
  let committedCost = 0;
  const deps: DriverDeps = {
    ...given,
    model: budgetedModel(
      given.model,
      given.config.budget_usd,
      () => committedCost + tracker.pending(),
    ),
  };
  for (;;) {
    if (opts.signal?.aborted)
      throw new RunStateError('the run was interrupted', { retry: opts.resumeCommand });
    const state = await loadState(deps);
    committedCost = state.cost_usd;
    if (state.status === 'done' || state.status === 'stopped') {
      return {
        status: state.status,
        message: state.stop_reason ?? state.status,
        gate: null,
        state,
      };
    }
    if (state.open_gate) {
      if (!(state.autopilot || opts.autopilot)) {
        return { status: 'gate', message: state.open_gate.question, gate: state.open_gate, state };
      }
      await answerGate(deps, state.open_gate.default, { ...opts, actor: 'autopilot' }, tracker);
      continue;
    }
    const budget = deps.config.budget_usd;
    if (state.cost_usd >= budget) {
      await finish(
        deps,
        state,
        {
          status: 'stopped',
          reason: `cost budget of $${budget} spent ($${state.cost_usd.toFixed(2)})`,
        },
        tracker,
        opts,
      );
      continue;
    }
    if (!state.budget_warned && state.cost_usd >= budget / 2) {
      deps.log(`warning: half of the $${budget} budget is spent ($${state.cost_usd.toFixed(2)})`);
      await commitState(
        deps,
        { ...state, budget_warned: true },
        'budget',
        'half the budget spent',
        [],
        tracker,
      );
    }

    const next = await decideNext(deps, state);
    if (next.kind === 'gate') {
      const gate = openGate(next.gate, next.step, deps.now());
      if (state.autopilot || opts.autopilot) {
        // Asked and answered in one commit: the decision still names the gate and 'autopilot'.
        await answerGate(deps, gate.default, { ...opts, actor: 'autopilot' }, tracker, {
          ...state,
          status: 'gate',
          open_gate: gate,
        });
        continue;
      }
      await commitState(
        deps,
        { ...state, status: 'gate', open_gate: gate },
        `gate ${gate.id}`,
        'waiting for an answer',
        [],
        tracker,
      );
      opts.onProgress?.(`gate ${gate.id}: waiting for an answer`);
      continue;
    }
    if (next.kind === 'finish') {
      if (needsBaselineGate(state) !== null) {
        await askBaseline(deps, state, next, tracker, opts);
        continue;
      }
      await finish(deps, state, next, tracker, opts);
      continue;
    }
    if (next.step === 'bench' && opts.benchMatrix) {
      const plan = await planBenchFanOut(deps.store, deps.config, state, {
        estimateTrialCost: (model) => deps.bench.estimateTrialCost(model),
        now: deps.now(),
      });
      if (plan !== null) {
        const line = benchPlanLine(plan);
        await commitState(deps, { ...state, bench_plan: plan }, 'bench planned', line, [], tracker);
        opts.onProgress?.(`06 bench: ${line}`);
        const planned = await loadState(deps);
        return { status: planned.status, message: `06 bench ${line}`, gate: null, state: planned };
      }
    }
    const failed = await runStep(deps, state, next.step, opts, tracker);
    if (failed !== null && !(state.autopilot || opts.autopilot)) {
      const latest = await loadState(deps);
      if (latest.status === 'stopped') continue;
      return { status: 'failed', message: failed, gate: null, state: latest };
    }
  }
}

async function runStep(
  deps: DriverDeps,
  state: ChainState,
  step: StepId,
  opts: DriverOptions,
  tracker: SpendTracker,
): Promise<string | null> {
  const { store } = deps;
  const label = `${String(STEPS[step].number).padStart(2, '0')} ${step}`;
  opts.onProgress?.(`${label}: running`);
  try {
    const outcome = await RUNNERS[step]({
      deps,
      state,
      directives: state.directives[step] ?? [],
      intent: await readIntent(store),
      head: await store.head(),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onBenchProgress ? { onBenchProgress: opts.onBenchProgress } : {}),
    });
    let next: ChainState = {
      ...state,
      status: 'running',
      directives: { ...state.directives, [step]: [] },
      consecutive_failures: 0,
      last_error: null,
    };
    if (step === 'functionality') next = { ...next, upstream: null, wrapper: null };
    if (step === 'design-tests') next = { ...next, picks_pending: true };
    if (step === 'write-tests') next = { ...next, build_plan_approved: null };
    // A bench that ran here (in this job or from a matrix's merged results) ends any plan.
    if (step === 'bench') next = { ...next, bench_plan: null };
    if (outcome.update) next = outcome.update(next);
    next = tracker.charge(next);
    await store.commit(stepCommit(state.slug, step, outcome.result), [
      ...outcome.changes,
      stateChange(next),
    ]);
    opts.onProgress?.(`${label}: ${outcome.result}`);
    if (outcome.finish) await finish(deps, next, outcome.finish, tracker, opts);
    return null;
  } catch (error) {
    if (error instanceof StepRefusedError) {
      await finish(
        deps,
        state,
        { status: 'stopped', reason: `step ${label} refused: ${error.message}` },
        tracker,
        opts,
      );
      return error.message;
    }
    // A refused push is not the step's failure: the branch is someone else's now.
    if (!(error instanceof SkillOptimizerError) || error instanceof StaleBranchError) throw error;
    const message = error.message;
    const failures = state.consecutive_failures + 1;
    const failed = tracker.charge({
      ...state,
      consecutive_failures: failures,
      last_error: { step, message },
    });
    await store.commit(operatorCommit(state.slug, `${label} failed`, message), [
      stateChange(failed),
    ]);
    opts.onProgress?.(`${label}: failed: ${message}`);
    if (error instanceof BudgetExceededError) {
      await finish(
        deps,
        failed,
        { status: 'stopped', reason: `cost budget spent: ${message}` },
        tracker,
        opts,
      );
    } else if (failures >= ERROR_BUDGET) {
      await finish(
        deps,
        failed,
        {
          status: 'stopped',
          reason: `error budget spent: ${ERROR_BUDGET} consecutive failed steps (last: ${label}: ${message})`,
        },
        tracker,
        opts,
      );
    }
    return `step ${label} failed: ${message}`;
  }
}

/** Records an answer to the open gate (docs/chain.md) and applies its effect, in one commit. */
export async function answerGate(
  deps: DriverDeps,
  answer: string,
  opts: Pick<DriverOptions, 'actor' | 'resumeCommand' | 'onProgress'>,
  tracker: SpendTracker = spendTracker(deps),
  current?: ChainState,
): Promise<ChainState> {
  const state = current ?? (await loadState(deps));
  const gate = state.open_gate;
  if (gate === null) {
    throw new GateAnswerError(`no gate is open for '${state.slug}' (status: ${state.status})`, {
      retry: opts.resumeCommand,
    });
  }
  const effect = await gateEffect(deps, state, gate, answer);
  const changes: FileChange[] = [...effect.changes];
  if (effect.revendor) changes.push(...(await revendorChanges(deps, state)));
  const next = effect.update({
    ...state,
    status: 'running',
    open_gate: null,
    decisions: [
      ...state.decisions,
      { gate: gate.id, answer, by: opts.actor, at: deps.now().toISOString() },
    ],
  });
  await commitState(deps, next, `gate ${gate.id}`, `${answer} by ${opts.actor}`, changes, tracker);
  opts.onProgress?.(`gate ${gate.id}: ${answer} by ${opts.actor}`);
  if (effect.finish) {
    // A run about to end with a kept improvement that does not beat no skill asks first.
    if (gate.id !== 'baseline' && needsBaselineGate(next) !== null) {
      await askBaseline(deps, next, effect.finish, tracker, opts);
    } else {
      await finish(deps, next, effect.finish, tracker, opts);
    }
  }
  return loadState(deps);
}

/**
 * Opens the baseline gate (docs/decision-rule.md) instead of ending the run; answering it ends the run
 * as `end` says. Autopilot answers with the default: do not publish.
 */
async function askBaseline(
  deps: DriverDeps,
  state: ChainState,
  end: { status: 'done' | 'stopped'; reason: string },
  tracker: SpendTracker,
  opts: Pick<DriverOptions, 'onProgress'>,
): Promise<void> {
  const kept = needsBaselineGate(state);
  const gate = openGate(gateSpecs.baseline(kept?.non_discriminating ?? []), 'bench', deps.now());
  await commitState(
    deps,
    { ...state, status: 'gate', open_gate: gate, pending_finish: end },
    `gate ${gate.id}`,
    'waiting for an answer',
    [],
    tracker,
  );
  opts.onProgress?.(`gate ${gate.id}: waiting for an answer`);
}

/**
 * Ends a run that has not ended yet at this step boundary (a human's `stop`), report written; an
 * open gate is closed with `stop` recorded as `actor`'s answer.
 */
export async function stopRun(
  deps: DriverDeps,
  reason: string,
  opts: Pick<DriverOptions, 'onProgress'> & { actor?: string },
): Promise<ChainState> {
  const loaded = await loadState(deps);
  const gate = loaded.open_gate;
  const state =
    gate === null || opts.actor === undefined
      ? loaded
      : {
          ...loaded,
          decisions: [
            ...loaded.decisions,
            { gate: gate.id, answer: 'stop', by: opts.actor, at: deps.now().toISOString() },
          ],
        };
  await finish(deps, state, { status: 'stopped', reason }, spendTracker(deps), opts);
  return loadState(deps);
}

/** Replaces vendored-skill/ with the folder the wrapper points to. */
async function revendorChanges(deps: DriverDeps, state: ChainState): Promise<FileChange[]> {
  const f01 = await readReport(deps.store, STEPS.functionality.report, functionalityFrontmatter);
  const target = f01?.data.wrapper_points_to;
  if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) {
    throw new GateAnswerError(
      `the wrapper points to ${target ? `'${target}'` : 'nothing step 1 could name'}, which cannot be vendored from this repository; answer 'keep' or 'cancel'`,
    );
  }
  const folder = posix.normalize(
    posix.join(state.skill_path, target.replace(/\/?SKILL\.md$/i, '')),
  );
  if (folder.startsWith('..') || posix.isAbsolute(folder)) {
    throw new GateAnswerError(
      `the wrapper target '${target}' lies outside the repository; answer 'keep' or 'cancel'`,
    );
  }
  return [
    { path: 'vendored-skill', delete: true },
    ...(await deps.source.read(folder, 'vendored-skill')),
  ];
}

/** Ends the run: report.md (with a non-convergence review when it stopped short), final state. */
async function finish(
  deps: DriverDeps,
  state: ChainState,
  end: { status: 'done' | 'stopped'; reason: string },
  tracker: SpendTracker,
  opts: Pick<DriverOptions, 'onProgress'>,
): Promise<void> {
  let review: string | null = null;
  const shortOfGoal = end.status === 'stopped' && state.benches.length > 0;
  if (shortOfGoal) {
    try {
      review = await writeNonConvergenceReview(deps, {
        stopReason: end.reason,
        benches: state.benches,
        threshold: deps.loop.threshold,
      });
    } catch (error) {
      if (!(error instanceof SkillOptimizerError)) throw error;
      deps.log(`the non-convergence review could not be written: ${error.message}`);
    }
  }
  const f01 = await readReport(deps.store, STEPS.functionality.report, functionalityFrontmatter);
  const final = tracker.charge({
    ...state,
    status: end.status,
    stop_reason: end.reason,
    open_gate: null,
  });
  const report = renderReport(final, {
    outcome: end.reason,
    review,
    skillName: f01?.data.skill_name ?? state.slug,
  });
  await deps.store.commit(operatorCommit(state.slug, 'report', end.reason), [
    { path: 'report.md', content: report },
    stateChange(final),
  ]);
  opts.onProgress?.(`finished (${end.status}): ${end.reason}`);
}

async function commitState(
  deps: DriverDeps,
  state: ChainState,
  what: string,
  result: string,
  changes: FileChange[],
  tracker: SpendTracker,
): Promise<void> {
  await deps.store.commit(operatorCommit(state.slug, what, result), [
    ...changes,
    stateChange(tracker.charge(state)),
  ]);
}

export async function loadState(deps: Pick<DriverDeps, 'store'>): Promise<ChainState> {
  const state = await readState(deps.store);
  if (state === null) {
    throw new RunStateError(
      `no run state (chain.yml) on ${deps.store.branch}; start the run first`,
    );
  }
  return state;
}

/**
 * A kept improvement is about to be reported while the kept skill does not beat the no-skill
 * baseline and no human has decided what that means: the bench point that says so.
 */
function needsBaselineGate(state: ChainState): BenchPoint | null {
  if (!state.benches.some((b) => b.verdict === 'improved' && b.kept)) return null;
  if (state.decisions.some((d) => d.gate === 'baseline')) return null;
  const kept = state.benches.findLast((b) => b.kept);
  return kept !== undefined && kept.beats_baseline === false ? kept : null;
}

/** Adds the chain model's spend since the last commit to the state being committed. */
interface SpendTracker {
  charge(state: ChainState): ChainState;
  /** Spend since the last charge. */
  pending(): number;
}

function spendTracker(deps: DriverDeps): SpendTracker {
  let last = deps.meter.spent();
  return {
    pending: () => deps.meter.spent().cost_usd - last.cost_usd,
    charge(state) {
      const now = deps.meter.spent();
      const delta: Usage = {
        input_tokens: now.usage.input_tokens - last.usage.input_tokens,
        output_tokens: now.usage.output_tokens - last.usage.output_tokens,
        cache_creation_input_tokens:
          now.usage.cache_creation_input_tokens - last.usage.cache_creation_input_tokens,
        cache_read_input_tokens:
          now.usage.cache_read_input_tokens - last.usage.cache_read_input_tokens,
      };
      const cost = now.cost_usd - last.cost_usd;
      last = now;
      return {
        ...state,
        usage: addUsage(addUsage(zeroUsage(), state.usage), delta),
        cost_usd: state.cost_usd + cost,
      };
    },
  };
}
