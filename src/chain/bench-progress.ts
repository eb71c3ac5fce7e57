import type { TrialRecord } from '../bench/types.js';

/** Where step 6 stands while its trials run: every bench call of the step counted together. */
export interface BenchProgress {
  /** Trials settled (run, or not started: excluded probe or budget). */
  done: number;
  /** Trials planned by the bench calls started so far (retries and extra trials add to it). */
  total: number;
  passed: number;
  errors: number;
  /** The run's cost so far: what was committed before the step plus this step's trials. */
  cost_usd: number;
  last: TrialRecord;
}

/** One bench call's own count, as the bench port reports it with each finished trial. */
export interface TrialCount {
  done: number;
  total: number;
}

/**
 * Adds up the bench calls of one step 6 run (first bench, retry of errored trials, adaptive
 * rounds) into one progress line. Calls run one after another, so each call's count is kept
 * apart and the totals are their sums.
 */
export function benchProgress(
  costBefore: number,
  report: ((progress: BenchProgress) => void) | undefined,
): { call(): (record: TrialRecord, count: TrialCount) => void } {
  const calls: TrialCount[] = [];
  let passed = 0;
  let errors = 0;
  let cost = costBefore;
  return {
    call() {
      const own: TrialCount = { done: 0, total: 0 };
      calls.push(own);
      return (record, count) => {
        own.done = count.done;
        own.total = count.total;
        if (record.status === 'pass') passed += 1;
        if (record.status === 'error') errors += 1;
        cost += record.cost_usd;
        report?.({
          done: calls.reduce((sum, c) => sum + c.done, 0),
          total: calls.reduce((sum, c) => sum + c.total, 0),
          passed,
          errors,
          cost_usd: cost,
          last: record,
        });
      };
    },
  };
}

/** The one-line form the CLI and the PR tracker show. */
export function benchProgressLine(p: BenchProgress): string {
  return `06 bench: ${p.done}/${p.total} trials, ${p.passed} passed, ${p.errors} errors, $${p.cost_usd.toFixed(2)} spent`;
}
