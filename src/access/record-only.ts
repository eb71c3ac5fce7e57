import type { DriverDeps } from '../chain/ports.js';
import { localSkillSource } from '../chain/start.js';
import { resolveLoopSettings } from '../config/loop.js';
import type { Config } from '../config/schema.js';
import { ModelUnavailableError } from '../errors.js';
import { zeroUsage } from '../model/usage.js';
import type { RunStore } from '../store/port.js';

/**
 * The driver's ports without a model: enough to record what a human decided (answers, a stop,
 * the report of a stopped run). Anything that needs the model or the bench throws
 * `ModelUnavailableError` with `why`, so a step or review says what is missing instead of running.
 */
export function recordOnlyDeps(opts: {
  store: RunStore;
  repoRoot: string;
  config: Config;
  why: string;
  log: (line: string) => void;
  now?: () => Date;
}): DriverDeps {
  const unavailable = async (): Promise<never> => {
    throw new ModelUnavailableError(opts.why);
  };
  return {
    store: opts.store,
    model: { call: unavailable },
    bench: { run: unavailable, smoke: unavailable, estimateTrialCost: () => 0 },
    upstream: null,
    source: localSkillSource(opts.repoRoot),
    meter: { spent: () => ({ usage: zeroUsage(), cost_usd: 0 }) },
    config: opts.config,
    loop: resolveLoopSettings(opts.config),
    now: opts.now ?? (() => new Date()),
    log: opts.log,
  };
}
