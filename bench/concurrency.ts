import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GradeInput, type GradeOutcome, runGrader } from '../src/bench/grader.js';
import { createGraderPool } from '../src/bench/grader-pool.js';
import { mapBounded } from '../src/bench/pool.js';
import { createSandbox, type Sandbox } from '../src/bench/sandbox/index.js';
import { loadSuite } from '../src/bench/suite.js';
import { assertAllRan } from './check-records.js';
import { TINY_CALLS_PER_TRIAL, tinyScript, writeTinySuite } from './fixtures/tiny-suite.js';
import { bestOf, mean } from './measure.js';
import type { ServerPlacement } from './model-server.js';
import { type Benchmark, type Log, type ResultRow, row } from './report.js';
import { timeRunnerOnly } from './runner-only.js';
import { runScriptedBench, type ScriptedBenchRun } from './scripted-bench.js';

const NAME = 'concurrency';
const PROBES = 8;
const CONCURRENCY = 8;

/** One latency at which the bench is measured: fewer trials where each trial takes long. */
interface Point {
  latencyMs: number;
  trials: number;
  /** Runs at this point; the fastest is kept (short concurrent runs are noisy). */
  repeats: number;
  /** Efficiency at C=8 this point must reach. */
  target: number;
}

/** The stress point: model calls far faster than real ones, so any overhead shows. */
const STRESS: Point = { latencyMs: 100, trials: 4, repeats: 3, target: 0.6 };
/** Realistic model latency (1–5 s per call), at both ends of the range. */
const REALISTIC: Point[] = [
  { latencyMs: 1000, trials: 4, repeats: 2, target: 0.9 },
  { latencyMs: 5000, trials: 1, repeats: 1, target: 0.9 },
];
/** Grades timed for the before/after figure, run C at a time like a bench's trials. */
const GRADES = 32;

interface Figures {
  run: ScriptedBenchRun;
  trials: number;
  waves: number;
  perTrialMs: number;
  /** ceil(P*T/C) waves of one trial's model latency. */
  ideal: number;
  /** Mean `runTrial` time: model calls and tools. */
  runnerMs: number;
  /** Mean time of one trial's grade. */
  graderMs: number;
  /** Mean time of a trial outside the runner: grading, workspace copy, bookkeeping. */
  outsideRunnerMs: number;
  /** How much later than the first trial the first wave's last trial started (smoke checks). */
  startSkewMs: number;
}

async function measure(
  dir: string,
  point: Point,
  concurrency: number,
  sandbox: Sandbox,
): Promise<Figures> {
  const suite = await loadSuite(join(dir, 'suite.yml'), { concurrency, trials: point.trials });
  const run = await runScriptedBench({
    suite,
    script: tinyScript(),
    sandbox,
    latencyMs: point.latencyMs,
    placement: 'child-process',
  });
  const trials = PROBES * point.trials;
  assertAllRan(run.result.records, trials, 'pass');
  const runnerMs = mean(run.spans.map((s) => s.end - s.start));
  const waves = Math.ceil(trials / concurrency);
  const perTrialMs = TINY_CALLS_PER_TRIAL * point.latencyMs;
  return {
    run,
    trials,
    waves,
    perTrialMs,
    ideal: waves * perTrialMs,
    runnerMs,
    graderMs: mean(run.trialGrades.map((g) => g.end - g.start)),
    outsideRunnerMs: mean(run.result.records.map((r) => r.duration_ms)) - runnerMs,
    startSkewMs: startSkew(run, concurrency),
  };
}

/** How much later than the first trial the first wave's last trial started (smoke checks). */
function startSkew(run: ScriptedBenchRun, concurrency: number): number {
  const starts = run.spans.map((span) => span.start).sort((a, b) => a - b);
  const first = starts[0] ?? Number.NaN;
  return (starts[Math.min(concurrency, starts.length) - 1] ?? first) - first;
}

function describe(log: Log, label: string, f: Figures): void {
  log(
    `  ${label}: ${f.trials} trials in ${f.run.trialPhaseMs.toFixed(0)} ms (ideal ${f.ideal} ms = ${f.waves} waves x ${f.perTrialMs} ms), ` +
      `whole runBench ${f.run.totalMs.toFixed(0)} ms with smoke checks; per trial: runner ${f.runnerMs.toFixed(0)} ms, ` +
      `outside the runner ${f.outsideRunnerMs.toFixed(0)} ms of which grading ${f.graderMs.toFixed(0)} ms; ` +
      `the first wave's last trial started ${f.startSkewMs.toFixed(0)} ms after its first (smoke checks)`,
  );
}

/**
 * Mean wall time of one grade of the tiny grader when GRADES grades run CONCURRENCY at a time:
 * each in a fresh sandbox and node (`runGrader`, how trials were graded before the pool) or on
 * the long-lived hosts of a grader pool (how `runBench` grades now), timed after one untimed
 * round that starts the hosts, as a bench's smoke checks do.
 */
async function timeGrades(dir: string, sandbox: Sandbox, how: 'fresh' | 'pool'): Promise<number> {
  const graderPath = join(dir, 'probes', 'p001', 'grader.mjs');
  const scratch = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-grades-'));
  const pool =
    how === 'pool'
      ? await createGraderPool(sandbox, {
          graderPaths: [graderPath],
          dependenciesDir: null,
          size: CONCURRENCY,
        })
      : null;
  const grade = (input: GradeInput): Promise<GradeOutcome> =>
    pool === null ? runGrader(sandbox, input) : pool.grade(input);
  const gradeAll = (names: string[]) =>
    mapBounded(
      names.map((name) => join(scratch, name)),
      CONCURRENCY,
      async (workspaceDir) => {
        await mkdir(workspaceDir);
        await writeFile(join(workspaceDir, 'done.txt'), 'ok\n');
        const started = performance.now();
        const outcome = await grade({ graderPath, workspaceDir, transcript: [], finalMessage: '' });
        if (!outcome.ok || !outcome.result.pass) {
          throw new Error(`the tiny grader did not pass: ${JSON.stringify(outcome)}`);
        }
        return performance.now() - started;
      },
    );
  try {
    // A bench's hosts are started by its smoke checks: time the pool once its hosts are up.
    if (pool !== null) await gradeAll(Array.from({ length: CONCURRENCY }, (_, i) => `warm-${i}`));
    return mean(await gradeAll(Array.from({ length: GRADES }, (_, i) => `trial-${i}`)));
  } finally {
    await pool?.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * P probes x T trials at concurrency C against a scripted server (in its own process, as a
 * remote API would be) answering every model call after a fixed latency. Efficiency = ideal /
 * measured: ideal = ceil(P*T/C) waves x the model latency of one trial (calls per trial x
 * latency), measured = from the first trial's start to the last trial's record, grading included.
 * Measured at the 100 ms stress point and at realistic latencies of 1 s and 5 s per call (fewer
 * trials at 5 s), plus the runner alone at 100 ms and grading before and after the grader pool.
 */
export const concurrencyBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-concurrency-'));
    try {
      await writeTinySuite(dir, {
        probes: PROBES,
        trials: STRESS.trials,
        concurrency: CONCURRENCY,
        models: ['claude-sonnet-4-6'],
      });
      const sandbox = await createSandbox('auto', { secretInReach: false });
      log(
        `  ${PROBES} probes, ${TINY_CALLS_PER_TRIAL} model calls per trial, sandbox ${sandbox.level}, ` +
          `load average ${loadavg()[0]?.toFixed(2)}`,
      );
      const c = `C=${CONCURRENCY}`;
      const rows: ResultRow[] = [];
      for (const point of [STRESS, ...REALISTIC]) {
        const figures = await bestOf(
          point.repeats,
          () => measure(dir, point, CONCURRENCY, sandbox),
          (f) => f.run.trialPhaseMs,
        );
        const at = `${point.latencyMs / 1000} s calls`;
        describe(log, `${c}, ${at} (fastest of ${point.repeats})`, figures);
        rows.push(
          row(
            NAME,
            `efficiency ${c}, ${at}, runBench trials`,
            figures.ideal / figures.run.trialPhaseMs,
            'ratio',
            { op: '>=', value: point.target },
          ),
          row(NAME, `grading per trial at ${c}, ${at}`, figures.graderMs, 'ms'),
        );
      }

      const serial = await measure(dir, STRESS, 1, sandbox);
      describe(log, 'C=1, 0.1 s calls', serial);
      const suite = await loadSuite(join(dir, 'suite.yml'), { concurrency: CONCURRENCY });
      const runnerOnly = (placement: ServerPlacement) =>
        timeRunnerOnly({
          suite,
          script: tinyScript(),
          sandbox,
          latencyMs: STRESS.latencyMs,
          placement,
        });
      const fastest = (placement: ServerPlacement) =>
        bestOf(
          STRESS.repeats,
          () => runnerOnly(placement),
          (ms) => ms,
        );
      const runnerRemote = await fastest('child-process');
      const runnerLocal = await fastest('in-process');
      log(
        `  ${c} runner only at 0.1 s (no grading, no smoke checks, fastest of ${STRESS.repeats}): ` +
          `${runnerRemote.toFixed(0)} ms, ${runnerLocal.toFixed(0)} ms with the scripted server in this process`,
      );
      const ideal = Math.ceil((PROBES * STRESS.trials) / CONCURRENCY) * 2 * STRESS.latencyMs;

      const fresh = await timeGrades(dir, sandbox, 'fresh');
      const pooled = await timeGrades(dir, sandbox, 'pool');
      log(
        `  ${GRADES} grades ${CONCURRENCY} at a time: ${fresh.toFixed(0)} ms each in a fresh sandbox and node (before), ` +
          `${pooled.toFixed(0)} ms each on the grader pool (now)`,
      );
      return [
        ...rows,
        row(
          NAME,
          `efficiency ${c}, 0.1 s calls, runner only (no grader)`,
          ideal / runnerRemote,
          'ratio',
          {
            op: '>=',
            value: 0.9,
          },
        ),
        row(
          NAME,
          `efficiency ${c}, 0.1 s calls, runner only, server in-process`,
          ideal / runnerLocal,
          'ratio',
        ),
        row(
          NAME,
          'efficiency C=1, 0.1 s calls, runBench trials',
          serial.ideal / serial.run.trialPhaseMs,
          'ratio',
        ),
        row(NAME, `grade at ${c}, fresh sandbox per grade (before)`, fresh, 'ms'),
        row(NAME, `grade at ${c}, grader pool (now)`, pooled, 'ms'),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
