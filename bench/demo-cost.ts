import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../src/cli/program.js';
import { costOf } from '../src/model/pricing.js';
import type { ChaosSettings } from '../src/model/scripted/chaos.js';
import { loadScript } from '../src/model/scripted/script.js';
import { startScriptedServer } from '../src/model/scripted/server.js';
import {
  DEMO_BRANCH,
  DEMO_INTENT,
  DEMO_RUN_DIR,
  DEMO_SCRIPT,
  DEMO_SKILL,
  git,
  lineRecorder,
  makeDemoRepo,
} from './fixtures/demo-repo.js';
import { type ModelCall, recordGlobalFetch } from './model-calls.js';
import { type Benchmark, type ResultRow, row } from './report.js';

const NAME = 'demo-cost';
/** Per model call: long enough that parallel calls are in flight together. */
const LATENCY_MS = 50;
/**
 * The scripted demo answers every run the same, so each seed drives the scripted server's chaos
 * mode (src/model/scripted/chaos.ts) at a 10% rate: transport faults the client retries, and
 * structured answers in prose, in a code fence, with a field missing or extra, each costing a
 * repair turn, as a real model sometimes does.
 */
export const DEMO_COST_SEEDS = [1, 2, 3, 4, 5] as const;
const CHAOS = {
  rate: 0.1,
  kinds: ['429', '529', '500', 'prose', 'fence', 'missing-optional', 'extra-field'],
  stall_ms: 200,
  retry_after_ms: 20,
} satisfies Omit<ChaosSettings, 'seed'>;

export interface CostRun {
  seed: number;
  /** List-price USD summed over every model call (chain subagents and bench trials). */
  costUsd: number;
  /** What the run itself recorded in chain.yml. */
  recordedUsd: number;
  calls: number;
  /** Calls answered with a transport fault (retried by the client, not billed). */
  faults: number;
}

/** Median, min and max of `values` (the median of an even count is the mean of the middle two). */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number };
}

const priced = (calls: readonly ModelCall[]) =>
  calls.reduce((sum, c) => sum + (c.usage === null ? 0 : costOf(c.model, c.usage)), 0);

/** `npm run demo`'s autopilot run, in this process, the model disturbed by chaos `seed`. */
async function runDemo(seed: number): Promise<CostRun> {
  const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-demo-cost-'));
  const server = await startScriptedServer({
    script: await loadScript(DEMO_SCRIPT),
    latencyMs: LATENCY_MS,
    chaos: { ...CHAOS, seed },
  });
  const recording = recordGlobalFetch();
  try {
    makeDemoRepo(dir);
    const out = lineRecorder();
    const err = lineRecorder();
    const code = await runCli(['run', DEMO_SKILL, '--autopilot', '--intent', DEMO_INTENT], {
      env: { ...process.env, ANTHROPIC_API_KEY: 'bench-demo-key', ANTHROPIC_BASE_URL: server.url },
      cwd: dir,
      stdout: out.stream,
      stderr: err.stream,
    });
    if (code !== 0 || !out.lines.some((l) => l.text.startsWith('run done'))) {
      const tail = [...out.lines, ...err.lines].slice(-15).map((l) => l.text);
      throw new Error(`the demo run did not finish (exit ${code}):\n${tail.join('\n')}`);
    }
    // A fault (429, 529, 500) is not billed; every answer that is must carry its usage.
    const missing = recording.calls.filter((c) => c.status === 200 && c.usage === null).length;
    if (missing > 0) throw new Error(`${missing} answered model calls carried no usage`);
    const state = parse(git(dir, 'show', `${DEMO_BRANCH}:${DEMO_RUN_DIR}/chain.yml`)) as {
      cost_usd: number;
    };
    return {
      seed,
      costUsd: priced(recording.calls),
      recordedUsd: state.cost_usd,
      calls: recording.calls.length,
      faults: recording.calls.filter((c) => c.status !== 200).length,
    };
  } finally {
    recording.restore();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Target: the list-price cost of the demo's whole optimisation (chain subagents and bench
 * trials, every model call priced by src/model/pricing.ts on the usage the faithful scripted
 * server reports) under $1, as the median of five runs with its min–max spread.
 */
export const demoCostBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    const runs: CostRun[] = [];
    for (const seed of DEMO_COST_SEEDS) {
      const run = await runDemo(seed);
      runs.push(run);
      log(
        `  seed ${seed}: ${run.calls} model calls (${run.faults} faults retried), $${run.costUsd.toFixed(4)} at list ` +
          `price (chain.yml recorded $${run.recordedUsd.toFixed(4)})`,
      );
    }
    const { median, min, max } = spread(runs.map((r) => r.costUsd));
    log(
      `  median $${median.toFixed(4)}, spread $${min.toFixed(4)}–$${max.toFixed(4)} over ` +
        `${runs.length} runs (chaos seeds ${DEMO_COST_SEEDS.join(', ')}, rate ${CHAOS.rate})`,
    );
    const rows: ResultRow[] = [
      row(NAME, 'demo optimisation cost, median of 5 runs', median, 'USD', {
        op: '<',
        value: 1,
      }),
      row(NAME, 'demo optimisation cost, cheapest run', min, 'USD'),
      row(NAME, 'demo optimisation cost, dearest run', max, 'USD'),
    ];
    return rows;
  },
};
