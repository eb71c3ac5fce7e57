import type { TrialRecord, TrialStatus } from '../../src/bench/types.js';

/** A valid TrialRecord for tests; `status` drives the grader/error fields unless overridden. */
export function trialRecord(
  overrides: Partial<TrialRecord> & { status?: TrialStatus } = {},
): TrialRecord {
  const status = overrides.status ?? 'pass';
  return {
    probe: 'csv/sums',
    model: 'model-a',
    trial: 1,
    baseline: false,
    heldout: false,
    runner: 'messages',
    status,
    grader:
      status === 'error'
        ? null
        : { pass: status === 'pass', reasons: [status === 'pass' ? 'ok' : 'wrong total'] },
    error: status === 'error' ? 'runner crashed' : null,
    transcript: [
      { role: 'user', content: 'Add the numbers.' },
      { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
    ],
    finalMessage: 'Done.',
    usage: {
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 5,
      cache_read_input_tokens: 50,
    },
    cost_usd: 0.001,
    duration_ms: 1200,
    stop_reason: status === 'error' ? 'error' : 'end_turn',
    skill_triggered: null,
    isolation: 'bubblewrap',
    ...overrides,
  };
}

/** `passes` passing and `fails` failing trials (then `errors` errors) of one probe/model, numbered from 1. */
export function trials(
  counts: { passes: number; fails: number; errors?: number },
  base: Partial<TrialRecord> = {},
): TrialRecord[] {
  const statuses: TrialStatus[] = [
    ...Array<TrialStatus>(counts.passes).fill('pass'),
    ...Array<TrialStatus>(counts.fails).fill('fail'),
    ...Array<TrialStatus>(counts.errors ?? 0).fill('error'),
  ];
  return statuses.map((status, i) => trialRecord({ ...base, status, trial: i + 1 }));
}
