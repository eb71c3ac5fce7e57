import { codeSpan } from '../text/escape-markdown.js';
import { escapeInline } from './markdown.js';
import type { TrackerState } from './tracker.js';

/**
 * The answer to `/optimize status`, read from the chain PRs' tracker state blocks (no run is
 * started for it). A chain PR whose state block is missing or invalid is named as unreadable.
 */

export interface ChainPullState {
  number: number;
  state: TrackerState | null;
}

function describe(state: TrackerState): string {
  const gate = state.open_gate;
  if (state.status === 'gate' && gate !== null) {
    const sha = state.pinned_sha === null ? '' : ` about commit ${state.pinned_sha.slice(0, 7)}`;
    const step = state.gate_step === null ? '' : ` (step ${state.gate_step})`;
    return `waiting at gate \`${gate}\`${step}${sha}: approve the gate review, request changes, or comment a command`;
  }
  switch (state.status) {
    case 'running':
      return 'running';
    case 'done':
      return 'finished';
    case 'stopped':
      return 'stopped; comment `/optimize` to resume';
    case 'failed':
      return 'failed; see the chain PR for the reason, then comment `/optimize` to retry';
    default:
      return state.status;
  }
}

export function renderStatusReply(
  pr: number,
  runs: readonly ChainPullState[],
  runLabel: string,
): string {
  if (runs.length === 0) {
    return `No Skill Optimizer run for #${pr} yet. Start one with \`/optimize\` or the ${codeSpan(runLabel.slice(0, 50))} label.`;
  }
  const lines = runs.map(({ number, state }) =>
    state === null
      ? `- #${number}: its progress tracker could not be read`
      : `- ${codeSpan(state.skill_path)} (run \`${state.slug}\`, started by ${escapeInline(state.triggered_by, 60)}) in #${number}: ${describe(state)}`,
  );
  return [`**Skill Optimizer status for #${pr}**`, '', ...lines].join('\n');
}
