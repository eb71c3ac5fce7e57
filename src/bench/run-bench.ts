import { cp, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsage, type Usage, zeroUsage } from '../model/usage.js';
import { type GradeInput, type GradeOutcome, type SmokeReport, smokeCheck } from './grader.js';
import {
  type DependencyInstaller,
  defaultGraderDepsCache,
  prepareGraderDependencies,
} from './grader-deps.js';
import { createGraderPool, type GraderPool } from './grader-pool.js';
import { createLimiter, mapBounded } from './pool.js';
import { createResultsDir, ResultsWriter, writeMeta } from './results.js';
import type { Sandbox } from './sandbox/index.js';
import { copyWorkspace } from './sandbox/paths.js';
import { planTrials, selectShard, type TrialKey } from './shard.js';
import { loadSkill } from './skill.js';
import { renderSummary } from './summary.js';
import type { Probe, Runner, Skill, StopReason, Suite, TrialRecord } from './types.js';

export interface BenchProgress {
  done: number;
  total: number;
  last: TrialRecord;
}

export interface ExcludedProbe {
  probe: string;
  reasons: string[];
}

export interface BenchDeps {
  /** The runner for trials with the skill and for baseline trials (same agent, no skill). */
  runner: Runner;
  sandbox: Sandbox;
  costOf: (model: string, usage: Usage) => number;
  now?: () => Date;
  log?: (line: string) => void;
  onProgress?: (p: BenchProgress) => void;
  /** Installs the suite's grader dependencies; `npm install` when omitted. */
  installDependencies?: DependencyInstaller;
  /** Told how long each grade took (smoke fixtures included), for benchmarks. */
  onGraded?: (ms: number) => void;
}

export interface BenchOptions {
  suite: Suite;
  baseline: boolean;
  shard?: { index: number; count: number };
  /**
   * Exactly these trials instead of the planned ones (a retry of errored trials, or extra trials
   * for deciding probes); keys of probes not in the suite are ignored.
   */
  keys?: readonly TrialKey[];
  /**
   * Asked before each trial starts with the trial's projected cost; false means the budget would
   * be exceeded, so the trial is not started (trials already running finish).
   */
  reserve?: (model: string) => boolean;
  /** Results root; each bench writes a timestamped folder under it. */
  outRoot: string;
  /** Keep each trial's final workspace under `<results>/workspaces/` (default true). */
  keepWorkspaces?: boolean;
  /** Per grader run, smoke checks included (default DEFAULT_GRADER_TIMEOUT_MS). */
  graderTimeoutMs?: number;
  /** Where grader dependency sets are installed and reused (default ~/.cache/skill-optimizer). */
  graderDepsCache?: string;
  signal?: AbortSignal;
}

export interface BenchResult {
  dir: string;
  summaryPath: string;
  records: TrialRecord[];
  excluded: ExcludedProbe[];
  /** Trials not started because the budget would have been exceeded. */
  skipped: TrialKey[];
}

/**
 * The workbench (docs/chain.md): smoke-check every grader, run every planned trial with bounded
 * concurrency, grade it, and write raw results plus a markdown summary. A broken trial or grader
 * is recorded as an error and the rest of the bench goes on.
 */
export async function runBench(opts: BenchOptions, deps: BenchDeps): Promise<BenchResult> {
  const { suite } = opts;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => {});
  const skill = await loadSkill(suite.skillDir);
  const started = now();
  const dependenciesDir = await prepareGraderDependencies(suite.graderDependencies ?? {}, {
    cacheDir: opts.graderDepsCache ?? defaultGraderDepsCache(),
    log,
    ...(deps.installDependencies === undefined ? {} : { install: deps.installDependencies }),
  });
  const timeouts = opts.graderTimeoutMs === undefined ? {} : { timeoutMs: opts.graderTimeoutMs };

  const byId = new Map(suite.probes.map((p) => [p.id, p]));
  const planned = opts.keys
    ? opts.keys.filter((k) => byId.has(k.probe))
    : planTrials(suite, { baseline: opts.baseline });
  const keys = opts.shard ? selectShard(planned, opts.shard) : planned;

  const dir = await createResultsDir(opts.outRoot, started);
  const writer = new ResultsWriter(join(dir, 'results.jsonl'));
  const scratch = await mkdtemp(join(tmpdir(), 'skill-optimizer-trials-'));
  const wanted = suite.probes.filter((p) => keys.some((k) => k.probe === p.id));
  // One pool of long-lived grader hosts for the smoke checks and the trials (grader-pool.ts).
  const graders = await createGraderPool(deps.sandbox, {
    graderPaths: await existingFiles(wanted.map((p) => p.graderPath)),
    dependenciesDir,
    size: suite.concurrency,
    log,
    ...timeouts,
  });
  const grade = timedGrade(graders, deps.onGraded);
  // Each probe's smoke check starts at once (bounded); its trials start as soon as it passes,
  // so grading fixtures overlaps with model calls instead of delaying every trial.
  const limit = createLimiter(suite.concurrency);
  const smokeReports = new Map(
    wanted.map((probe) => [probe.id, limit(() => smokeCheck(deps.sandbox, probe, { grade }))]),
  );
  const smokeOf = (probe: Probe) => smokeReports.get(probe.id) as Promise<SmokeReport>;

  const records: TrialRecord[] = [];
  const skipped: TrialKey[] = [];
  let settled = 0;
  try {
    await mapBounded(keys, suite.concurrency, async (key) => {
      const probe = byId.get(key.probe) as Probe;
      if (!(await smokeOf(probe)).ok) {
        settled++;
        return;
      }
      if (opts.reserve && !opts.reserve(key.model)) {
        skipped.push(key);
        settled++;
        return;
      }
      const record = await runOneTrial(key, probe, {
        suite,
        skill,
        scratch,
        keepDir: opts.keepWorkspaces === false ? null : join(dir, 'workspaces'),
        deps,
        grade,
        signal: opts.signal,
      });
      await writer.append(record);
      records.push(record);
      settled++;
      deps.onProgress?.({ done: settled, total: keys.length, last: record });
    });
  } finally {
    await Promise.allSettled(smokeReports.values());
    await graders.close();
    await writer.close();
    await rm(scratch, { recursive: true, force: true });
  }
  const smoke = await Promise.all(smokeReports.values());
  const excluded: ExcludedProbe[] = wanted
    .map((probe, i) => ({ probe: probe.id, report: smoke[i] as SmokeReport }))
    .filter((s) => !s.report.ok)
    .map((s) => ({ probe: s.probe, reasons: s.report.reasons }));
  for (const e of excluded) log(`probe '${e.probe}' excluded: ${e.reasons.join('; ')}`);

  records.sort(compareKeys);
  await writeMeta(dir, {
    suite: suite.path,
    skill: suite.skillDir,
    runner: deps.runner.name,
    models: suite.models,
    trials: suite.trials,
    baseline: opts.baseline,
    shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null,
    isolation: deps.sandbox.level,
    excluded,
    started: started.toISOString(),
    finished: now().toISOString(),
  });
  const summaryPath = join(dir, 'summary.md');
  await writeFile(
    summaryPath,
    renderSummary({
      title: `Bench: ${skill.name}`,
      records,
      excluded,
      isolation: deps.sandbox.level,
      runner: deps.runner.name,
    }),
  );
  if (skipped.length > 0) log(`${skipped.length} trials not started: the budget would be exceeded`);
  return { dir, summaryPath, records, excluded, skipped };
}

/** Stops that are the agent's own outcome: a fail, never an error, and not graded. */
const AGENT_LIMIT_STOPS: ReadonlySet<StopReason> = new Set(['timeout', 'max_turns', 'budget']);

interface TrialContext {
  suite: Suite;
  skill: Skill;
  scratch: string;
  /** Where final workspaces are kept, one folder per trial; null keeps none. */
  keepDir: string | null;
  deps: BenchDeps;
  grade: (input: GradeInput) => Promise<GradeOutcome>;
  signal: AbortSignal | undefined;
}

async function runOneTrial(key: TrialKey, probe: Probe, ctx: TrialContext): Promise<TrialRecord> {
  const { deps } = ctx;
  const startedAt = Date.now();
  const name = trialName(key);
  const workspaceDir = join(ctx.scratch, name);
  const label = `probe '${probe.id}' (${key.model}, trial ${key.trial}${key.baseline ? ', baseline' : ''})`;
  const record = (fields: Partial<TrialRecord> & Pick<TrialRecord, 'status'>): TrialRecord => {
    const usage = fields.usage ?? zeroUsage();
    return {
      probe: key.probe,
      model: key.model,
      trial: key.trial,
      baseline: key.baseline,
      heldout: probe.heldout,
      runner: deps.runner.name,
      isolation: deps.sandbox.level,
      grader: null,
      error: null,
      transcript: [],
      finalMessage: '',
      stop_reason: 'error',
      skill_triggered: null,
      ...fields,
      usage,
      cost_usd: deps.costOf(key.model, usage),
      duration_ms: Date.now() - startedAt,
    };
  };

  try {
    await copyWorkspace(probe.workspaceDir, workspaceDir);
  } catch (error) {
    return record({
      status: 'error',
      error: `${label}: workspace could not be prepared: ${(error as Error).message}`,
    });
  }
  try {
    const out = await deps.runner.runTrial({
      probe,
      skill: key.baseline ? null : ctx.skill,
      model: key.model,
      workspaceDir,
      signal: ctx.signal ?? new AbortController().signal,
    });
    const ran = {
      transcript: out.transcript,
      finalMessage: out.finalMessage,
      usage: addUsage(zeroUsage(), out.usage),
      stop_reason: out.stopReason,
      skill_triggered: out.skillTriggered ?? null,
    };
    // A trial the agent did not finish within its own limits is the agent's failure, not the
    // infrastructure's: counting it as an error would leave it out of the rates and make a skill
    // that makes the agent hang look better.
    if (AGENT_LIMIT_STOPS.has(out.stopReason) && !ctx.signal?.aborted)
      return record({ ...ran, status: 'fail' });
    if (out.error !== undefined)
      return record({ ...ran, status: 'error', error: `${label}: ${out.error}` });
    const graded = await ctx.grade({
      graderPath: probe.graderPath,
      workspaceDir,
      transcript: out.transcript,
      finalMessage: out.finalMessage,
    });
    if (!graded.ok) return record({ ...ran, status: 'error', error: `${label}: ${graded.error}` });
    return record({ ...ran, status: graded.result.pass ? 'pass' : 'fail', grader: graded.result });
  } catch (error) {
    return record({ status: 'error', error: `${label}: ${(error as Error).message}` });
  } finally {
    if (ctx.keepDir !== null) {
      await cp(workspaceDir, join(ctx.keepDir, name), {
        recursive: true,
        verbatimSymlinks: true,
      }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    await rm(workspaceDir, { recursive: true, force: true });
  }
}

/** The files of `paths` that exist; a missing grader is reported by its smoke check. */
async function existingFiles(paths: string[]): Promise<string[]> {
  const found = await Promise.all(
    paths.map((path) =>
      stat(path).then(
        (info) => info.isFile(),
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return false;
          throw error;
        },
      ),
    ),
  );
  return paths.filter((_, i) => found[i]);
}

function timedGrade(
  pool: GraderPool,
  onGraded: ((ms: number) => void) | undefined,
): (input: GradeInput) => Promise<GradeOutcome> {
  if (onGraded === undefined) return (input) => pool.grade(input);
  return async (input) => {
    const started = performance.now();
    try {
      return await pool.grade(input);
    } finally {
      onGraded(performance.now() - started);
    }
  };
}

function trialName(key: TrialKey): string {
  const safe = (s: string) => s.replace(/[^a-zA-Z0-9._-]+/g, '_');
  return `${safe(key.probe)}__${safe(key.model)}__${key.trial}${key.baseline ? '__baseline' : ''}`;
}

function compareKeys(a: TrialRecord, b: TrialRecord): number {
  return (
    Number(a.baseline) - Number(b.baseline) ||
    a.model.localeCompare(b.model) ||
    a.probe.localeCompare(b.probe) ||
    a.trial - b.trial
  );
}
