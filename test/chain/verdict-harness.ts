import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openChainAccess } from '../../src/access/chain-access.js';
import { createResultsDir, RESULTS_FILE } from '../../src/bench/results.js';
import { planTrials, type TrialKey } from '../../src/bench/shard.js';
import { loadSuite } from '../../src/bench/suite.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { advance, type DriverResult } from '../../src/chain/driver.js';
import type { BenchPort } from '../../src/chain/ports.js';
import { openRun } from '../../src/chain/start.js';
import { type ChainState, readState } from '../../src/chain/state.js';
import { configSchema } from '../../src/config/schema.js';
import { zeroUsage } from '../../src/model/usage.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { DEMO_SCRIPT, makeRepo, SKILL } from '../fixtures/chain/harness.js';

/**
 * Verdict scenarios: the real driver, steps, store and report on the example skill, with the
 * demo's scripted model for steps 1–5 and 7–9 and only the trial outcomes prescribed.
 */

export type Outcome = 'pass' | 'fail' | 'error' | 'timeout';

export interface TrialAsk {
  /** 0 for the first bench, then one per bench step. */
  bench: number;
  probe: string;
  heldout: boolean;
  baseline: boolean;
  trial: number;
  /** A trial of the kept skill run during a candidate's bench (adaptive trials). */
  kept: boolean;
  /** A retry of an errored trial. */
  retry: boolean;
}

export type Prescription = (ask: TrialAsk) => Outcome;

export interface Scenario {
  store: LocalRunStore;
  result: DriverResult;
  state: ChainState;
  asks: TrialAsk[];
  read(path: string): Promise<string | null>;
}

/** A bench that runs no agent: each trial's outcome comes from the prescription. */
export function prescribedBench(
  prescribe: Prescription,
  asks: TrialAsk[],
  costPerTrial: number,
): BenchPort {
  let benches = -1;
  return {
    async run(request) {
      if (request.keys === undefined) benches++;
      const suite = await loadSuite(request.suitePath, {
        skillDir: request.skillDir,
        models: ['claude-sonnet-4-6'],
        trials: 1,
        concurrency: 1,
        runner: 'messages',
      });
      const heldout = new Map(suite.probes.map((p) => [p.id, p.heldout]));
      const kept = request.skillDir.includes('kept-skill');
      const keys: readonly TrialKey[] =
        request.keys ?? planTrials({ ...suite, trials: trialsOf(request.suitePath) }, request);
      const records: TrialRecord[] = [];
      const skipped: TrialKey[] = [];
      for (const key of keys) {
        if (request.reserve && !request.reserve(key.model)) {
          skipped.push(key);
          continue;
        }
        const ask: TrialAsk = {
          bench: benches,
          probe: key.probe,
          heldout: heldout.get(key.probe) ?? false,
          baseline: key.baseline,
          trial: key.trial,
          kept,
          retry: request.keys !== undefined && !kept && !isExtra(request.keys, key),
        };
        asks.push(ask);
        const record = trialRecord(key, ask.heldout, prescribe(ask), costPerTrial);
        records.push(record);
        request.onTrial?.(record, { done: records.length + skipped.length, total: keys.length });
      }
      // One fixed time: every bench of a scenario names its results folder alike, as benches
      // finishing within the same second do, and none may overwrite another's on the branch.
      const dir = await createResultsDir(request.outRoot, new Date('2026-12-01T00:00:00Z'));
      await writeFile(
        join(dir, RESULTS_FILE),
        records.map((r) => `${JSON.stringify(r)}\n`).join(''),
      );
      return { dir, records, excluded: [], isolation: 'bubblewrap', skipped };
    },
    smoke: async () => ({ ok: true, reasons: [] }),
    estimateTrialCost: () => costPerTrial,
  };
}

let configuredTrials = 3;
/** The config's `trials` the prescribed bench plans with (runScenario sets it from its config). */
export function configureTrials(trials: number): void {
  configuredTrials = trials;
}
const trialsOf = (_suitePath: string) => configuredTrials;
/** Extra trials are numbered past the configured count; retries reuse a planned number. */
const isExtra = (_keys: readonly TrialKey[], key: TrialKey) => key.trial > configuredTrials;

function trialRecord(key: TrialKey, heldout: boolean, outcome: Outcome, cost: number): TrialRecord {
  return {
    probe: key.probe,
    model: key.model,
    trial: key.trial,
    baseline: key.baseline,
    heldout,
    runner: 'messages',
    status: outcome === 'timeout' ? 'fail' : outcome,
    grader:
      outcome === 'pass' || outcome === 'fail'
        ? { pass: outcome === 'pass', reasons: [outcome === 'pass' ? 'ok' : 'missing'] }
        : null,
    error: outcome === 'error' ? 'model API failed after 4 attempts: 529 overloaded' : null,
    transcript: [],
    finalMessage: '',
    usage: zeroUsage(),
    cost_usd: cost,
    duration_ms: 1,
    stop_reason: outcome === 'timeout' ? 'timeout' : outcome === 'error' ? 'error' : 'end_turn',
    skill_triggered: null,
    isolation: 'bubblewrap',
  };
}

/** Runs the example chain in autopilot to its end with prescribed trial outcomes. */
export async function runScenario(
  base: string,
  prescribe: Prescription,
  config: Record<string, unknown> = {},
  costPerTrial = 0.01,
): Promise<Scenario> {
  const full = {
    models: { executor: 'claude-sonnet-4-6', bench: ['claude-sonnet-4-6'] },
    trials: 3,
    concurrency: 4,
    ...config,
  };
  configureTrials(full.trials as number);
  const repo = makeRepo(base, { config: full });
  const parsed = configSchema.parse(full);
  const opened = await openRun({
    cwd: repo,
    skillDir: SKILL,
    runRoot: parsed.run_dir,
    autopilot: true,
    actor: 'maintainer',
    now: () => new Date(),
  });
  const asks: TrialAsk[] = [];
  const access = await openChainAccess({
    env: {},
    store: opened.store,
    repoRoot: opened.repoRoot,
    config: parsed,
    scriptedPath: DEMO_SCRIPT,
    sandboxMode: 'auto',
    log: () => {},
  });
  try {
    const result = await advance(
      { ...access.deps, bench: prescribedBench(prescribe, asks, costPerTrial) },
      { autopilot: true, actor: 'maintainer', resumeCommand: 'skill-optimizer run' },
    );
    const state = (await readState(opened.store)) as ChainState;
    return {
      store: opened.store,
      result,
      state,
      asks,
      read: (path) => opened.store.read(path),
    };
  } finally {
    await access.close();
  }
}
