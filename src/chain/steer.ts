import type { RunStore } from '../store/port.js';
import { operatorCommit, type StepId } from './catalog.js';
import { loadState } from './driver.js';
import { applyPicks, type PickSelection } from './picks.js';
import { type ChainState, stateChange } from './state.js';

/**
 * Human steering that changes the run's state without a model (docs/chain.md commands), shared by
 * the CLI and the Action: each is one commit. The driver then continues from the new state.
 */

function closeGate(state: ChainState, answer: string, actor: string, now: Date): ChainState {
  if (state.open_gate === null) return state;
  return {
    ...state,
    open_gate: null,
    decisions: [
      ...state.decisions,
      { gate: state.open_gate.id, answer, by: actor, at: now.toISOString() },
    ],
  };
}

/**
 * `/optimize rerun <step> [directive]` and "request changes" on a gate: queues the directives for
 * the step and closes an open gate, recording the decision.
 */
export async function queueRerun(
  store: RunStore,
  step: StepId,
  directives: string[],
  actor: string,
  now: Date,
): Promise<void> {
  const state = await loadState({ store });
  const texts =
    directives.length > 0 ? directives : [`Re-run requested by ${actor}; no further instructions.`];
  const closed = closeGate(state, `rerun ${step}`, actor, now);
  const next: ChainState = {
    ...closed,
    status: state.status === 'failed' ? 'failed' : 'running',
    stop_reason: null,
    revisions: step === 'improve' ? 0 : state.revisions,
    rejected_rounds: step === 'write-tests' ? 0 : state.rejected_rounds,
    consecutive_failures: 0,
    directives: { ...state.directives, [step]: [...(state.directives[step] ?? []), ...texts] },
  };
  await store.commit(operatorCommit(state.slug, `rerun ${step}`, `directive by ${actor}`), [
    stateChange(next),
  ]);
}

/** `/optimize pick …`: marks functionalities picked; answers an open picks gate. */
export async function pickFunctionalities(
  store: RunStore,
  selection: PickSelection,
  label: string,
  actor: string,
  now: Date,
): Promise<string[]> {
  const { changes, picked } = await applyPicks(store, selection);
  const state = await loadState({ store });
  const closing = state.open_gate?.id === 'picks';
  // A pick answers the picks gate and settles proposals step 3 left pending.
  const next: ChainState = {
    ...(closing ? { ...closeGate(state, `pick ${label}`, actor, now), status: 'running' } : state),
    picks_pending: false,
  };
  await store.commit(operatorCommit(state.slug, 'pick', `${picked.join(', ')} by ${actor}`), [
    ...changes,
    ...(closing || state.picks_pending ? [stateChange(next)] : []),
  ]);
  return picked;
}
