import { mergeShardResults } from '../bench/merge.js';
import { readMeta } from '../bench/results.js';
import { formatShard, trialKeyText } from '../bench/shard.js';
import type { IsolationLevel, TrialRecord } from '../bench/types.js';
import type { Config } from '../config/schema.js';
import type { RunStore } from '../store/port.js';
import { assertPlanCurrent, BenchPlanError, plannedBenchKeys } from './bench-plan.js';
import type { BenchPort } from './ports.js';
import type { BenchPlan } from './state.js';

/** The trials of a planned bench, merged from its shards and checked against the plan. */
export interface MergedShards {
  plan: BenchPlan;
  dir: string;
  records: TrialRecord[];
  excluded: Array<{ probe: string; reasons: string[] }>;
  isolation: IsolationLevel;
}

/**
 * Merges the shards' results folders (one per shard of `plan`, downloaded by the merge job) and
 * checks them against the plan: every shard present once, the branch still as planned, and
 * exactly the planned trials (those of probes whose grader failed the smoke check excepted).
 */
export async function mergePlannedShards(opts: {
  store: RunStore;
  config: Config;
  plan: BenchPlan;
  /** Downloaded shard folders with their artifact names. */
  shards: ReadonlyArray<{ name: string; dir: string }>;
  outRoot: string;
  now: Date;
}): Promise<MergedShards> {
  const { plan, store } = opts;
  await assertPlanCurrent(store, plan);
  const seen = new Map<string, string>();
  for (const shard of opts.shards) {
    const meta = await readMeta(shard.dir);
    const where = `artifact ${shard.name}`;
    if (meta.shard === null || !meta.shard.endsWith(`/${plan.shards}`)) {
      throw new BenchPlanError(
        `${where} is not a shard of the planned ${plan.shards}-shard bench (its shard: ${meta.shard ?? 'none'})`,
      );
    }
    if (meta.baseline !== plan.baseline) {
      throw new BenchPlanError(
        `${where} ran ${meta.baseline ? 'with' : 'without'} the no-skill baseline; the plan says the opposite`,
      );
    }
    const twice = seen.get(meta.shard);
    if (twice !== undefined) {
      throw new BenchPlanError(`shard ${meta.shard} was uploaded twice (${twice}, ${shard.name})`);
    }
    seen.set(meta.shard, shard.name);
  }
  const missing = Array.from({ length: plan.shards }, (_, i) =>
    formatShard({ index: i + 1, count: plan.shards }),
  ).filter((s) => !seen.has(s));
  if (missing.length > 0) {
    throw new BenchPlanError(
      `no results from bench shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${plan.shards}: the shard job failed or uploaded nothing, so step 06 has no complete bench to resume from`,
    );
  }
  const merged = await mergeShardResults({
    dirs: opts.shards.map((s) => s.dir),
    outRoot: opts.outRoot,
    now: opts.now,
    title: `Bench (${plan.shards} shards merged)`,
    mergedFrom: opts.shards.map((s) => s.name),
  });
  const meta = await readMeta(merged.dir);
  if (meta.isolation === null) {
    throw new BenchPlanError('the bench shards ran with different sandbox isolation');
  }
  const excludedProbes = new Set(meta.excluded.map((e) => e.probe));
  const planned = (
    await plannedBenchKeys(store, opts.config, { skill: plan.skill, baseline: plan.baseline })
  ).filter((k) => !excludedProbes.has(k.probe));
  const got = new Set(merged.records.map((r) => trialKeyText(r)));
  const wanted = new Set(planned.map((k) => trialKeyText(k)));
  const absent = [...wanted].filter((k) => !got.has(k));
  const extra = [...got].filter((k) => !wanted.has(k));
  if (absent.length > 0 || extra.length > 0) {
    throw new BenchPlanError(
      `the merged shards do not hold the planned trials: ${absent.length} missing, ${extra.length} not planned${absent[0] ? ` (first missing: ${absent[0]})` : ''}`,
    );
  }
  return {
    plan,
    dir: merged.dir,
    records: merged.records,
    excluded: meta.excluded,
    isolation: meta.isolation,
  };
}

/**
 * Step 06 resumed from a matrix: the first full bench the step asks for (no `keys`) is answered
 * with the merged shards' trials instead of running them again; everything after it, the retry of
 * errored trials and adaptive extra trials included, runs through `bench` in this job, exactly as
 * in a bench that never left the chain's job.
 */
export function benchFromMergedShards(
  bench: BenchPort,
  merged: MergedShards,
  store: RunStore,
): BenchPort & { used(): boolean } {
  let used = false;
  return {
    used: () => used,
    estimateTrialCost: (model) => bench.estimateTrialCost(model),
    smoke: (probe) => bench.smoke(probe),
    async run(request) {
      if (used || request.keys !== undefined) return bench.run(request);
      const skill = request.skillDir.replace(/\/+$/, '').split('/').pop();
      if (skill !== merged.plan.skill || request.baseline !== merged.plan.baseline) {
        throw new BenchPlanError(
          `step 06 asked to bench ${skill}${request.baseline ? ' with the baseline' : ''}, but the matrix benched ${merged.plan.skill}${merged.plan.baseline ? ' with the baseline' : ''}`,
          { retry: 'comment `/optimize` on the skill pull request to plan the bench again' },
        );
      }
      // Steps run before step 06 in this job must not have changed what the shards benched.
      await assertPlanCurrent(store, merged.plan);
      used = true;
      const total = merged.records.length;
      merged.records.forEach((record, i) => {
        request.onTrial?.(record, { done: i + 1, total });
      });
      return {
        dir: merged.dir,
        records: merged.records,
        excluded: merged.excluded,
        isolation: merged.isolation,
        skipped: [],
      };
    },
  };
}
