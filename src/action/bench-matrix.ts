import { z } from 'zod';
import { formatShard, parseShard } from '../bench/shard.js';
import type { BenchPlan } from '../chain/state.js';
import { parseWorkBranch } from '../routing/branch.js';
import { ActionInputError } from './inputs.js';

/**
 * The job matrix of a chain bench that fans out (docs/chain.md "The bench on the job matrix"):
 * the chain job's `bench-matrix` output, read by the shard jobs' `strategy.matrix` and given
 * whole to the merge job. One entry per shard; an entry names the run by its work branch and
 * carries what the merge job needs to resume it (its chain PR, who drives it, autopilot).
 */

export const CHAIN_BENCH_ARTIFACT_PREFIX = 'skill-optimizer-chain-bench-';

const matrixEntrySchema = z.strictObject({
  branch: z.string().refine((b) => parseWorkBranch(b) !== null, {
    error: 'must be a work branch skill-optimizer/<pr>-<slug>',
  }),
  shard: z.string().superRefine((text, ctx) => {
    try {
      parseShard(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }),
  chain_pr: z.int().positive(),
  actor: z.string().min(1),
  autopilot: z.boolean(),
});
export type MatrixEntry = z.infer<typeof matrixEntrySchema>;

const benchMatrixSchema = z.strictObject({ include: z.array(matrixEntrySchema).min(1) });
export type BenchMatrix = z.infer<typeof benchMatrixSchema>;

/** One matrix entry per shard of a run's plan. */
export function matrixEntries(
  run: { branch: string; chainPr: number; actor: string; autopilot: boolean },
  plan: BenchPlan,
): MatrixEntry[] {
  return Array.from({ length: plan.shards }, (_, i) => ({
    branch: run.branch,
    shard: formatShard({ index: i + 1, count: plan.shards }),
    chain_pr: run.chainPr,
    actor: run.actor,
    autopilot: run.autopilot,
  }));
}

/** The `bench-matrix` input as the merge job receives it (the chain job's output, verbatim). */
export function parseBenchMatrix(text: string): BenchMatrix {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ActionInputError(
      `invalid Action inputs: input 'bench-matrix' is not JSON (${(error as Error).message}); pass the chain job's output: \${{ needs.<chain job>.outputs.bench-matrix }}`,
    );
  }
  const result = benchMatrixSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ActionInputError(
      `invalid Action inputs: input 'bench-matrix' ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

/** The runs of a matrix: each work branch once, with its shard count. */
export function matrixRuns(
  matrix: BenchMatrix,
): Array<MatrixEntry & { slug: string; skillPr: number; shards: number }> {
  const runs = new Map<string, MatrixEntry & { slug: string; skillPr: number; shards: number }>();
  for (const entry of matrix.include) {
    const parsed = parseWorkBranch(entry.branch);
    if (parsed === null || runs.has(entry.branch)) continue;
    runs.set(entry.branch, {
      ...entry,
      slug: parsed.slug,
      skillPr: parsed.pr,
      shards: parseShard(entry.shard).count,
    });
  }
  return [...runs.values()];
}

/** The artifact a chain bench shard uploads: `skill-optimizer-chain-bench-<slug>-<i>`. */
export function chainShardArtifact(slug: string, index: number): string {
  return `${CHAIN_BENCH_ARTIFACT_PREFIX}${slug}-${index}`;
}
