import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createResultsDir, mergeResults, readMeta, writeMeta, writeResults } from './results.js';
import { renderSummary } from './summary.js';
import type { TrialRecord } from './types.js';

export interface MergedBench {
  dir: string;
  records: TrialRecord[];
  summary: string;
}

/**
 * Joins shard result folders into one results folder under `outRoot`: all trials (a trial found
 * twice is an error), merged meta (isolation kept only when every shard agrees, excluded probes
 * once each) and summary.md. Used by `bench merge` and the Action's bench-merge job.
 */
export async function mergeShardResults(opts: {
  dirs: readonly string[];
  outRoot: string;
  now: Date;
  title: string;
  /** What meta.json names as the sources (folders, or artifact names). */
  mergedFrom: string[];
}): Promise<MergedBench> {
  const records = await mergeResults(opts.dirs);
  const metas = await Promise.all(opts.dirs.map((d) => readMeta(d)));
  const [first] = metas;
  if (first === undefined) throw new RangeError('mergeShardResults needs at least one folder');
  const isolation = new Set(metas.map((m) => m.isolation)).size === 1 ? first.isolation : null;
  const excluded = [...new Map(metas.flatMap((m) => m.excluded).map((e) => [e.probe, e])).values()];
  const dir = await createResultsDir(opts.outRoot, opts.now);
  await writeResults(join(dir, 'results.jsonl'), records);
  await writeMeta(dir, {
    ...first,
    shard: null,
    isolation,
    merged_from: opts.mergedFrom,
    excluded,
    started: metas.map((m) => m.started).sort()[0] ?? first.started,
    finished: opts.now.toISOString(),
  });
  const summary = renderSummary({
    title: opts.title,
    records,
    excluded,
    ...(isolation ? { isolation } : {}),
    runner: first.runner,
  });
  await writeFile(join(dir, 'summary.md'), summary);
  return { dir, records, summary };
}
