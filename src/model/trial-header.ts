/**
 * Names the trial a model request belongs to (`<probe>#<workspace>`, the same in every run of
 * the suite). The bench's runners send it; `--record` keys trial answers by it, so a replay gives
 * each trial its own recorded answers whatever order concurrent trials arrive in.
 */
export const TRIAL_HEADER = 'x-skill-optimizer-trial';
