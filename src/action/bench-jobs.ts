import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { mergeShardResults } from '../bench/merge.js';
import { runBench } from '../bench/run-bench.js';
import { weakIsolationNotice } from '../bench/sandbox/index.js';
import { formatShard } from '../bench/shard.js';
import { loadSuite } from '../bench/suite.js';
import type { Config } from '../config/schema.js';
import { SkillOptimizerError } from '../errors.js';
import type { ActionDeps, ActionOutcome } from './ports.js';

/**
 * The bench at scale (docs/chain.md): a job matrix runs one shard per job and uploads its raw
 * results as an artifact; a merge job downloads every shard and writes the merged summary.
 */

export const BENCH_ARTIFACT_PREFIX = 'skill-optimizer-bench-';

export class BenchMergeError extends SkillOptimizerError {}

export async function benchShard(deps: ActionDeps, config: Config): Promise<ActionOutcome> {
  const { inputs, context } = deps;
  const shard = inputs.shard;
  if (shard === null) throw new SkillOptimizerError('bench-shard needs the `shard` input (i/n)');
  if (inputs['anthropic-api-key'] === '') {
    const message =
      'The bench shard did not run: no Anthropic API key is available to this workflow run (pull requests from forks get no secrets).';
    deps.log.notice(message);
    return {
      status: 'neutral',
      gate: null,
      chainPr: null,
      costUsd: null,
      summary: `${message}\n`,
      message,
    };
  }
  const suite = await loadSuite(join(context.workspace, inputs.suite), {
    ...(inputs.skill === '' ? {} : { skillDir: join(context.workspace, inputs.skill) }),
  });
  const access = await deps.openModel(suite.runner, config.sandbox);
  const notice = weakIsolationNotice(access.sandbox);
  if (notice !== null) deps.log.warning(notice);
  try {
    const result = await runBench(
      {
        suite,
        baseline: inputs.baseline === 'true',
        shard,
        outRoot: join(context.tempDir, 'skill-optimizer-bench', String(shard.index)),
        keepWorkspaces: false,
      },
      {
        runner: access.runner,
        sandbox: access.sandbox,
        costOf: access.costOf,
        log: (l) => deps.log.info(l),
      },
    );
    const name = `${BENCH_ARTIFACT_PREFIX}${shard.index}`;
    await deps.artifacts.upload(name, await listFiles(result.dir), result.dir);
    const cost = result.records.reduce((sum, r) => sum + r.cost_usd, 0);
    const errors = result.records.filter((r) => r.status === 'error').length;
    const message = `shard ${formatShard(shard)}: ${result.records.length} trials, ${errors} errors, uploaded as ${name}`;
    return {
      status: 'done',
      gate: null,
      chainPr: null,
      costUsd: cost,
      summary: `${notice === null ? '' : `> ${notice}\n\n`}${message}\n\n${await readFile(result.summaryPath, 'utf8')}`,
      message,
    };
  } finally {
    await access.close();
  }
}

export async function benchMerge(deps: ActionDeps): Promise<ActionOutcome> {
  const found = (await deps.artifacts.list(BENCH_ARTIFACT_PREFIX)).sort(
    (a, b) => shardIndex(a.name) - shardIndex(b.name),
  );
  if (found.length === 0) {
    throw new BenchMergeError(
      `no bench shard artifacts (${BENCH_ARTIFACT_PREFIX}<i>) in this workflow run; run the bench-shard jobs first (needs: in the merge job)`,
    );
  }
  const root = join(deps.context.tempDir, 'skill-optimizer-merge');
  const dirs: string[] = [];
  for (const artifact of found) {
    const dir = join(root, 'shards', artifact.name);
    await deps.artifacts.download(artifact.id, dir);
    dirs.push(dir);
  }
  const { records, summary } = await mergeShardResults({
    dirs,
    outRoot: join(root, 'merged'),
    now: deps.now(),
    title: `Bench (${found.length} shards merged)`,
    mergedFrom: found.map((a) => a.name),
  });
  const cost = records.reduce((sum, r) => sum + r.cost_usd, 0);
  return {
    status: 'done',
    gate: null,
    chainPr: null,
    costUsd: cost,
    summary,
    message: `merged ${records.length} trials from ${found.length} shards`,
  };
}

function shardIndex(name: string): number {
  const n = Number(name.slice(BENCH_ARTIFACT_PREFIX.length));
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

/** Every file under `dir`, for an artifact upload. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((file) => !relative(dir, file).startsWith('..'))
    .sort();
}
