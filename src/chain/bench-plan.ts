import { planTrials, selectShard, type TrialKey } from '../bench/shard.js';
import { loadSuite, type SuiteOverrides } from '../bench/suite.js';
import type { Config } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { operatorCommit, RUN_FILES, STEPS } from './catalog.js';
import { currentSkillCopy, readReport } from './inputs.js';
import { testsVerdictFrontmatter } from './reports.js';
import { type BenchPlan, type ChainState, readState, stateChange } from './state.js';

export type { BenchPlan };

/**
 * Step 06 on the Actions job matrix (docs/chain.md "The bench on the job matrix"): when a bench
 * has more trials than `matrix_min_trials`, the chain's job does not run them. It commits this
 * plan into chain.yml and ends; one job per shard benches the work branch at `commit`, and a merge
 * job resumes step 06 from the shards' merged results.
 */

/** The plan no longer matches the branch, or the shards' results do not match the plan. */
export class BenchPlanError extends SkillOptimizerError {}

/** The suite settings the chain's bench applies over tests/suite.yml (models, trials, runner). */
export function chainSuiteOverrides(config: Config, skillDir: string): SuiteOverrides {
  return {
    skillDir,
    models: config.models.bench,
    trials: config.trials,
    concurrency: config.concurrency,
    runner: config.runner,
  };
}

/** Every trial a full bench of `skillDir` against the run's suite would run. */
export async function plannedBenchKeys(
  store: RunStore,
  config: Config,
  opts: { skill: BenchPlan['skill']; baseline: boolean },
): Promise<TrialKey[]> {
  const suite = await loadSuite(
    store.absolutePath(RUN_FILES.suite),
    chainSuiteOverrides(config, store.absolutePath(opts.skill)),
  );
  return planTrials(suite, { baseline: opts.baseline });
}

/**
 * The plan for the next bench when it should fan out, else null: `matrix_min_trials` is set and
 * exceeded, step 5 approved every probe (otherwise step 06 refuses in the job, as always), and the
 * projected cost of every trial fits the budget left (shards cannot stop one another mid-bench,
 * so a bench that might not fit runs in the job, where each trial is reserved before it starts).
 */
export async function planBenchFanOut(
  store: RunStore,
  config: Config,
  state: { benches: readonly unknown[]; cost_usd: number },
  opts: { estimateTrialCost: (model: string) => number; now: Date },
): Promise<BenchPlan | null> {
  const min = config.matrix_min_trials;
  if (min === undefined) return null;
  // Whatever keeps step 06 from benching (no approved suite, a suite that does not load) is
  // left to the step itself, which reports it where every step failure is reported.
  const verdict = await readReport(store, STEPS['validate-tests'].report, testsVerdictFrontmatter);
  if (verdict === null || !verdict.data.all_probes_approved) return null;
  const skill = await currentSkillCopy(store);
  const baseline = state.benches.length === 0;
  let keys: TrialKey[];
  try {
    keys = await plannedBenchKeys(store, config, { skill, baseline });
  } catch (error) {
    if (error instanceof SkillOptimizerError) return null;
    throw error;
  }
  if (keys.length <= min) return null;
  const projected = keys.reduce((sum, k) => sum + opts.estimateTrialCost(k.model), 0);
  if (state.cost_usd + projected > config.budget_usd) return null;
  const shards = Math.min(config.matrix_shards, keys.length);
  return {
    shards,
    trials: keys.length,
    per_shard: Array.from(
      { length: shards },
      (_, i) => selectShard(keys, { index: i + 1, count: shards }).length,
    ),
    baseline,
    skill,
    commit: await store.head(),
    planned_at: opts.now.toISOString(),
  };
}

/**
 * Refuses when the suite or the skill changed on the branch after the plan was made: the shards
 * (or their merge) would bench something the plan did not count.
 */
export async function assertPlanCurrent(store: RunStore, plan: BenchPlan): Promise<void> {
  const last = await store.lastCommitTouching([RUN_FILES.tests, plan.skill]);
  if (last !== null && !(await store.isAncestor(last, plan.commit))) {
    throw new BenchPlanError(
      `the suite or the skill changed on ${store.branch} after step 06 was planned on ${plan.commit.slice(0, 12)} (last change ${last.slice(0, 12)}); the shards' results are for the planned commit only`,
      { retry: 'comment `/optimize` on the skill pull request to plan the bench again' },
    );
  }
}

/** One line for the tracker and the job summary. */
export function benchPlanLine(plan: BenchPlan): string {
  return `running on ${plan.shards} shards of the job matrix (${plan.trials} trials, ${plan.per_shard.join('/')} per shard)`;
}

/**
 * The merge job could not resume step 06 (a shard failed or uploaded nothing): the plan is
 * dropped and the failure recorded as step 06's, in one commit, so the tracker shows why and the
 * next `/optimize` plans the bench again.
 */
export async function abandonBenchPlan(store: RunStore, message: string): Promise<ChainState> {
  const state = await readState(store);
  if (state === null) throw new BenchPlanError(`no run state (chain.yml) on ${store.branch}`);
  const next: ChainState = {
    ...state,
    bench_plan: null,
    consecutive_failures: state.consecutive_failures + 1,
    last_error: { step: 'bench', message },
  };
  await store.commit(operatorCommit(state.slug, '06 bench failed', message), [stateChange(next)]);
  return next;
}
