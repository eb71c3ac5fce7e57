import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openChainAccess } from '../../src/access/chain-access.js';
import { createResultsDir, writeMeta, writeResults } from '../../src/bench/results.js';
import { formatShard, selectShard } from '../../src/bench/shard.js';
import { BenchPlanError, plannedBenchKeys } from '../../src/chain/bench-plan.js';
import { advance, RunStateError } from '../../src/chain/driver.js';
import { benchFromMergedShards, mergePlannedShards } from '../../src/chain/merged-bench.js';
import type { BenchPort } from '../../src/chain/ports.js';
import { openRun } from '../../src/chain/start.js';
import { type BenchPlan, type ChainState, readState } from '../../src/chain/state.js';
import { configSchema } from '../../src/config/schema.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { DEMO_SCRIPT, makeRepo, SKILL } from '../fixtures/chain/harness.js';
import { useGitSandbox } from '../store/git-fixture.js';
import {
  configureTrials,
  type Outcome,
  type Prescription,
  prescribedBench,
  runScenario,
  type TrialAsk,
} from './verdict-harness.js';

/**
 * Step 06 resumed from a job matrix's merged shards, through the real driver, steps and store with
 * prescribed trial outcomes: every bench is planned, its shards are benched and merged, and the
 * driver goes on from the merged results. The run must end exactly as the same run benched in one
 * job — adaptive extra trials (run where the merge resumes) and verdicts included.
 */

const sandbox = useGitSandbox();

const firstN = (a: TrialAsk, n: number): Outcome => (a.trial <= n ? 'pass' : 'fail');

/** Held-out 2/5 → 3/5 is inconclusive but favourable: adaptive trials decide it (improved). */
const adaptive: Prescription = (a) => {
  if (a.baseline) return 'fail';
  if (!a.heldout) return firstN(a, 3);
  if (a.kept) return 'fail';
  if (a.bench === 0) return firstN(a, 2);
  return a.trial <= 5 ? firstN(a, 3) : 'pass';
};

const CONFIG = { max_iterations: 1, trials: 5, max_extra_trials: 10 };

/** The shards of `plan` as shard jobs leave them: one results folder each, with its meta. */
async function benchShards(
  store: LocalRunStore,
  bench: BenchPort,
  config: ReturnType<typeof configSchema.parse>,
  plan: BenchPlan,
  root: string,
  drop: number[] = [],
): Promise<Array<{ name: string; dir: string }>> {
  // The prescription is per trial, so one full bench split afterwards is what the shards get.
  const full = await bench.run({
    suitePath: store.absolutePath('tests/suite.yml'),
    skillDir: store.absolutePath(plan.skill),
    baseline: plan.baseline,
    outRoot: join(root, 'full'),
  });
  const keys = await plannedBenchKeys(store, config, plan);
  const shards: Array<{ name: string; dir: string }> = [];
  for (let index = 1; index <= plan.shards; index++) {
    if (drop.includes(index)) continue;
    const shard = { index, count: plan.shards };
    const mine = new Set(selectShard(keys, shard).map((k) => JSON.stringify(k)));
    const records = full.records.filter((r) =>
      mine.has(
        JSON.stringify({ probe: r.probe, model: r.model, trial: r.trial, baseline: r.baseline }),
      ),
    );
    const dir = await createResultsDir(join(root, `shard-${index}`), new Date());
    await writeResults(join(dir, 'results.jsonl'), records);
    await writeMeta(dir, {
      suite: 'tests/suite.yml',
      models: config.models.bench,
      runner: 'messages',
      trials: config.trials,
      baseline: plan.baseline,
      shard: formatShard(shard),
      isolation: 'bubblewrap',
      excluded: [],
      started: new Date().toISOString(),
      finished: new Date().toISOString(),
    });
    shards.push({ name: `shard-${index}`, dir });
  }
  return shards;
}

/** The example chain in autopilot, every bench fanned out over three shards and merged. */
async function runOnMatrix(
  base: string,
  prescribe: Prescription,
  drop: number[] = [],
  settings: Record<string, unknown> = {},
  alter: (shards: Array<{ name: string; dir: string }>) => Array<{ name: string; dir: string }> = (
    shards,
  ) => shards,
) {
  const full = {
    models: { executor: 'claude-sonnet-4-6', bench: ['claude-sonnet-4-6'] },
    concurrency: 4,
    ...CONFIG,
    matrix_min_trials: 1,
    matrix_shards: 3,
    ...settings,
  };
  configureTrials(full.trials);
  const repo = makeRepo(base, { config: full });
  const config = configSchema.parse(full);
  const opened = await openRun({
    cwd: repo,
    skillDir: SKILL,
    runRoot: config.run_dir,
    autopilot: true,
    actor: 'maintainer',
    now: () => new Date(),
  });
  const asks: TrialAsk[] = [];
  const access = await openChainAccess({
    env: {},
    store: opened.store,
    repoRoot: opened.repoRoot,
    config,
    scriptedPath: DEMO_SCRIPT,
    sandboxMode: 'auto',
    log: () => {},
  });
  const bench = prescribedBench(prescribe, asks, 0.01);
  const plans: BenchPlan[] = [];
  try {
    let merged: Awaited<ReturnType<typeof mergePlannedShards>> | null = null;
    for (let job = 0; job < 10; job++) {
      // A job that resumes from merged shards ends once step 06 is committed, so the next bench
      // is reached by a job that may fan out again (as a chain job after a gate would).
      const resumed = merged ? benchFromMergedShards(bench, merged, opened.store) : null;
      const stop = new AbortController();
      let result: Awaited<ReturnType<typeof advance>>;
      try {
        result = await advance(
          { ...access.deps, bench: resumed ?? bench },
          {
            autopilot: true,
            actor: 'maintainer',
            resumeCommand: 'retry',
            benchMatrix: resumed === null,
            signal: stop.signal,
            onProgress: (line) => {
              if (resumed?.used() && /^06 bench: /.test(line)) stop.abort();
            },
          },
        );
      } catch (error) {
        if (!(error instanceof RunStateError) || !stop.signal.aborted) throw error;
        merged = null;
        continue;
      }
      const plan = result.state.bench_plan;
      if (plan === null) break;
      plans.push(plan);
      const root = join(base, `matrix-${job}`);
      merged = await mergePlannedShards({
        store: opened.store,
        config,
        plan,
        shards: alter(await benchShards(opened.store, bench, config, plan, root, drop)),
        outRoot: join(root, 'merged'),
        now: new Date(),
      });
    }
    return { state: (await readState(opened.store)) as ChainState, asks, plans };
  } finally {
    await access.close();
  }
}

/** The bench progression without what names its folder. */
const progression = (state: ChainState) =>
  state.benches.map(({ results_dir: _dir, ...point }) => point);

describe('step 06 resumed from merged shards', () => {
  it('ends as the in-job run: same trials, adaptive extra trials, verdicts and cost', async () => {
    const inJob = await runScenario(join(sandbox.base, 'in-job'), adaptive, CONFIG);
    const matrix = await runOnMatrix(join(sandbox.base, 'matrix'), adaptive);

    // Both benches fanned out, the first with the no-skill baseline.
    expect(matrix.plans.map((p) => [p.skill, p.baseline, p.shards])).toEqual([
      ['vendored-skill', true, 3],
      ['improved-skill', false, 3],
    ]);
    expect(matrix.plans[0]?.trials).toBe(5 * 5 * 2);
    expect(progression(matrix.state)).toEqual(progression(inJob.state));
    const last = matrix.state.benches[1];
    expect(last?.verdict).toBe('improved');
    expect(last?.extra_trials).toBeGreaterThan(0);
    // The kept skill's extra trials ran where the merge resumed, as they do in the chain's job.
    const kept = (asks: TrialAsk[]) => asks.filter((a) => a.kept).map((a) => a.trial);
    expect(kept(matrix.asks)).toEqual(kept(inJob.asks));
    expect(matrix.state.cost_usd).toBeCloseTo(inJob.state.cost_usd, 6);
    expect(matrix.state.status).toBe(inJob.state.status);
    expect(matrix.state.bench_plan).toBeNull();
  }, 120_000);

  it('benches in the job when the bench is not larger than matrix_min_trials, or might not fit the budget', async () => {
    // 5 probes × 5 trials × 2 sides = 50 trials: not more than 50.
    const small = await runOnMatrix(join(sandbox.base, 'small'), adaptive, [], {
      matrix_min_trials: 50,
    });
    expect(small.plans).toEqual([]);
    expect(small.state.benches.map((b) => b.verdict)).toEqual([null, 'improved']);
    // 50 trials at $0.01 projected do not fit a $0.40 budget: the in-job bench reserves each trial.
    const tight = await runOnMatrix(join(sandbox.base, 'tight'), adaptive, [], {
      budget_usd: 0.4,
    });
    expect(tight.plans).toEqual([]);
    expect(tight.state.benches[0]?.verdict_reason).toMatch(/^cost budget reached mid-bench/);
  }, 120_000);

  it('refuses shards uploaded twice, or of another plan', async () => {
    await expect(
      runOnMatrix(join(sandbox.base, 'twice'), adaptive, [], {}, (shards) => [
        ...shards,
        { name: 'again', dir: shards[0]?.dir ?? '' },
      ]),
    ).rejects.toThrow(new BenchPlanError('shard 1/3 was uploaded twice (shard-1, again)'));
    await expect(
      runOnMatrix(join(sandbox.base, 'other-plan'), adaptive, [], {}, (shards) => {
        const meta = join(shards[0]?.dir ?? '', 'meta.json');
        writeFileSync(meta, readFileSync(meta, 'utf8').replace('"1/3"', '"1/4"'));
        return shards;
      }),
    ).rejects.toThrow(
      new BenchPlanError(
        'artifact shard-1 is not a shard of the planned 3-shard bench (its shard: 1/4)',
      ),
    );
  }, 120_000);

  it('refuses to resume from shards that miss one of the plan', async () => {
    await expect(runOnMatrix(join(sandbox.base, 'lost'), adaptive, [2])).rejects.toThrow(
      new BenchPlanError(
        'no results from bench shard 2/3 of 3: the shard job failed or uploaded nothing, so step 06 has no complete bench to resume from',
      ),
    );
  }, 120_000);
});
