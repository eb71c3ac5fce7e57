import type { Config, PresetName } from './schema.js';

/** Limits of the outer loop (threshold, iterations) and of the improve↔validate revision loop. */
export interface LoopSettings {
  /** Pass rate in percent that ends the outer loop. */
  threshold: number;
  maxIterations: number;
  maxRevisions: number;
}

export const PRESETS: Readonly<Record<PresetName, Readonly<LoopSettings>>> = {
  quick: { threshold: 70, maxIterations: 3, maxRevisions: 2 },
  standard: { threshold: 80, maxIterations: 5, maxRevisions: 2 },
  thorough: { threshold: 90, maxIterations: 8, maxRevisions: 2 },
};

/** The preset's limits, each replaced by the config's explicit value when one is set. */
export function resolveLoopSettings(
  config: Pick<Config, 'preset' | 'threshold' | 'max_iterations' | 'max_revisions'>,
): LoopSettings {
  const preset = PRESETS[config.preset];
  return {
    threshold: config.threshold ?? preset.threshold,
    maxIterations: config.max_iterations ?? preset.maxIterations,
    maxRevisions: config.max_revisions ?? preset.maxRevisions,
  };
}
