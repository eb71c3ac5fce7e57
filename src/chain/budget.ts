import { BudgetExceededError } from '../errors.js';
import type { ChainModel } from './model.js';

/**
 * The run's cost budget where money is spent (docs/decision-rule.md): a bench reserves each trial's
 * projected cost before starting it, and every subagent call checks the spend before it is made.
 */

/** Reserves trials against what is left of the budget; trials already running always finish. */
export interface TrialReserver {
  /** True when a trial of `model` may start; its projected cost is then held until it settles. */
  reserve(model: string): boolean;
  /** A started trial finished and cost `cost_usd`. */
  settle(costUsd: number): void;
  /** What the bench's finished trials cost so far. */
  spent(): number;
}

/**
 * `spentBefore` is the run's spend when the bench starts. A trial's projected cost is the mean of
 * the bench's finished trials, or `estimate(model)` before any has finished.
 */
export function trialReserver(opts: {
  budgetUsd: number;
  spentBefore: number;
  estimate: (model: string) => number;
}): TrialReserver {
  let finished = 0;
  let finishedCount = 0;
  let inFlight = 0;
  const projected = (model: string) =>
    finishedCount > 0 ? finished / finishedCount : opts.estimate(model);
  return {
    reserve(model) {
      const cost = projected(model);
      if (opts.spentBefore + finished + (inFlight + 1) * cost > opts.budgetUsd) return false;
      inFlight++;
      return true;
    },
    settle(costUsd) {
      inFlight = Math.max(0, inFlight - 1);
      finished += costUsd;
      finishedCount++;
    },
    spent: () => finished,
  };
}

/** The chain model, refusing any call once `spent()` has reached the budget. */
export function budgetedModel(
  model: ChainModel,
  budgetUsd: number,
  spent: () => number,
): ChainModel {
  return {
    async call(role, prompt, output, signal) {
      const now = spent();
      if (now >= budgetUsd) {
        throw new BudgetExceededError(
          `the $${budgetUsd} budget is spent ($${now.toFixed(2)}); no further model call was made`,
        );
      }
      return model.call(role, prompt, output, signal);
    },
  };
}
