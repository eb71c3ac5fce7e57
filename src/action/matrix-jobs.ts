import { join } from 'node:path';
import { formatShard, type Shard } from '../bench/shard.js';
import { abandonBenchPlan, assertPlanCurrent, BenchPlanError } from '../chain/bench-plan.js';
import { RUN_FILES } from '../chain/catalog.js';
import { loadState } from '../chain/driver.js';
import { type MergedShards, mergePlannedShards } from '../chain/merged-bench.js';
import type { BenchPlan } from '../chain/state.js';
import type { Config } from '../config/schema.js';
import { parseWorkBranch } from '../routing/branch.js';
import { listFiles } from './bench-jobs.js';
import {
  type BenchMatrix,
  CHAIN_BENCH_ARTIFACT_PREFIX,
  chainShardArtifact,
  matrixRuns,
} from './bench-matrix.js';
import { ActionInputError } from './inputs.js';
import { type GitHubRun, type RunPlace, resumeGitHubRun } from './open-run.js';
import type { ActionDeps, ActionOutcome, PullRequestInfo } from './ports.js';
import { drive, missingKey, NOTE_MARKER, quiet, RESUME, withCheckRun } from './session.js';
import type { Session } from './session-state.js';
import { knownSkillPr } from './skill-pr.js';
import type { RunReport } from './summary.js';
import { TrackerSync } from './tracker-sync.js';

/**
 * The chain's step 06 on the job matrix (docs/chain.md "The bench on the job matrix"): the shard
 * jobs bench their part of a planned step 06 on the work branch and upload it as an artifact; the
 * merge job downloads every shard, merges them and resumes the chain from there.
 */

/** Where runs live for the matrix jobs: nothing they do answers a comment or a review. */
function matrixPlace(deps: ActionDeps, config: Config, trackers?: Map<string, TrackerSync>) {
  const place: RunPlace = {
    repoDir: deps.context.workspace,
    remote: deps.remote,
    runRoot: config.run_dir,
    answering: null,
    onRecover: (message) => deps.log.warning(`recovered: ${message}`),
    ...(trackers
      ? {
          onPushed: async (branch: string) => {
            await trackers.get(branch)?.pushed();
          },
        }
      : {}),
  };
  return place;
}

/** The plan on the run's branch, checked against this shard and the branch's history. */
async function currentPlan(run: GitHubRun, shard: Shard): Promise<BenchPlan> {
  const plan = (await loadState({ store: run.store })).bench_plan;
  if (plan === null) {
    throw new BenchPlanError(
      `no bench is planned on ${run.branch}: its step 06 was merged, or planned again, since this workflow run started`,
    );
  }
  if (plan.shards !== shard.count) {
    throw new BenchPlanError(
      `shard ${formatShard(shard)} does not fit the bench planned on ${run.branch} (${plan.shards} shards)`,
    );
  }
  await assertPlanCurrent(run.store, plan);
  return plan;
}

/** bench-shard with `work-branch`: one shard of a chain run's planned step 06. */
export async function chainBenchShard(
  deps: ActionDeps,
  config: Config,
  branch: string,
  shard: Shard,
): Promise<ActionOutcome> {
  const absent = missingKey(deps);
  if (absent) return absent;
  const parsed = parseWorkBranch(branch);
  if (parsed === null) {
    throw new ActionInputError(
      `invalid Action inputs: input 'work-branch' ${JSON.stringify(branch)} is not a work branch skill-optimizer/<pr>-<slug>`,
    );
  }
  const run = await resumeGitHubRun(matrixPlace(deps, config), { slug: parsed.slug, branch });
  try {
    const plan = await currentPlan(run, shard);
    const access = await deps.openAccess({
      store: run.store,
      repoRoot: run.local.worktreeDir,
      config,
      log: (line) => deps.log.info(line),
    });
    try {
      const result = await access.deps.bench.run({
        suitePath: run.store.absolutePath(RUN_FILES.suite),
        skillDir: run.store.absolutePath(plan.skill),
        baseline: plan.baseline,
        outRoot: join(deps.context.tempDir, 'skill-optimizer-chain-bench', String(shard.index)),
        shard,
      });
      const name = chainShardArtifact(parsed.slug, shard.index);
      await deps.artifacts.upload(name, await listFiles(result.dir), result.dir);
      const cost = result.records.reduce((sum, r) => sum + r.cost_usd, 0);
      const errors = result.records.filter((r) => r.status === 'error').length;
      const message = `${branch} shard ${formatShard(shard)}: ${result.records.length} trials, ${errors} errors, uploaded as ${name}`;
      return {
        status: 'done',
        gate: null,
        chainPr: null,
        costUsd: cost,
        summary: `${message}\n`,
        message,
      };
    } finally {
      await access.close();
    }
  } finally {
    await run.close();
  }
}

/**
 * bench-merge with `bench-matrix`: for each run of the matrix, download its shards, merge them,
 * and drive the chain on from step 06 (to the next gate or the end), under one check run on the
 * skill PR. A run whose shards are missing or do not match its plan gets step 06 recorded as
 * failed, the plan dropped, and a note on its chain PR saying how to bench again.
 */
export async function resumeFromMatrix(
  deps: ActionDeps,
  config: Config,
  matrix: BenchMatrix,
): Promise<ActionOutcome> {
  const absent = missingKey(deps);
  if (absent) return absent;
  const runs = matrixRuns(matrix);
  const [first] = runs;
  if (first === undefined) return quiet('neutral', 'the bench matrix names no run');
  if (runs.some((r) => r.skillPr !== first.skillPr)) {
    throw new ActionInputError(
      "invalid Action inputs: input 'bench-matrix' names runs of more than one skill pull request",
    );
  }
  const trackers = new Map<string, TrackerSync>();
  const s: Session = { deps, config, trackers, place: matrixPlace(deps, config, trackers) };
  const skillPr = await deps.github.getPullRequest(first.skillPr);
  return withCheckRun(s, skillPr, async () => {
    const reports: RunReport[] = [];
    for (const entry of runs) {
      const run = await resumeGitHubRun(s.place, { slug: entry.slug, branch: entry.branch });
      try {
        const tracker = new TrackerSync(deps.github, run, {
          skillPr: entry.skillPr,
          triggeredBy: entry.actor,
        });
        tracker.chainPr = entry.chain_pr;
        trackers.set(run.branch, tracker);
        reports.push(await resumeRun(s, run, tracker, entry, skillPr));
      } finally {
        await run.close();
      }
    }
    return reports;
  });
}

async function resumeRun(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  entry: { actor: string; autopilot: boolean; chain_pr: number; shards: number },
  skillPr: PullRequestInfo,
): Promise<RunReport> {
  const state = await loadState({ store: run.store });
  const plan = state.bench_plan;
  if (plan === null) {
    const message = `no bench is planned on ${run.branch} (its step 06 was merged already, or planned again since)`;
    s.deps.log.notice(message);
    return {
      slug: run.slug,
      branch: run.branch,
      chainPr: entry.chain_pr,
      status: state.status,
      message,
      state,
    };
  }
  let merged: MergedShards;
  try {
    if (plan.shards !== entry.shards) {
      throw new BenchPlanError(
        `the bench matrix has ${entry.shards} shards for ${run.branch}, but its plan has ${plan.shards}`,
      );
    }
    merged = await downloadShards(s, run, plan);
  } catch (error) {
    if (!(error instanceof BenchPlanError)) throw error;
    const failed = await abandonBenchPlan(run.store, error.message);
    await tracker.send(failed);
    const note = `@${entry.actor} step 06 could not resume from the job matrix: ${error.message}\n\nNothing of this bench was recorded; the run stands where step 05 left it. To bench again, ${RESUME}.`;
    await s.deps.github.upsertComment(entry.chain_pr, NOTE_MARKER, note);
    return {
      slug: run.slug,
      branch: run.branch,
      chainPr: entry.chain_pr,
      status: 'failed',
      message: `step 06 could not resume from the job matrix: ${error.message}; to bench again, ${RESUME}`,
      state: failed,
    };
  }
  return drive(s, run, tracker, {
    actor: entry.actor,
    autopilot: entry.autopilot,
    skillPr: knownSkillPr(skillPr),
    merged,
  });
}

/** Downloads the run's shard artifacts and merges them against its plan. */
async function downloadShards(s: Session, run: GitHubRun, plan: BenchPlan): Promise<MergedShards> {
  const prefix = `${CHAIN_BENCH_ARTIFACT_PREFIX}${run.slug}-`;
  const found = (await s.deps.artifacts.list(prefix)).filter((a) =>
    /^\d+$/.test(a.name.slice(prefix.length)),
  );
  const root = join(s.deps.context.tempDir, 'skill-optimizer-chain-merge', run.slug);
  const shards: Array<{ name: string; dir: string }> = [];
  for (const artifact of found) {
    const dir = join(root, 'shards', artifact.name);
    await s.deps.artifacts.download(artifact.id, dir);
    shards.push({ name: artifact.name, dir });
  }
  return mergePlannedShards({
    store: run.store,
    config: s.config,
    plan,
    shards,
    outRoot: join(root, 'merged'),
    now: s.deps.now(),
  });
}
