import type { TrialRecord } from '../src/bench/types.js';

/**
 * A benchmark whose trials did not all run as scripted measures nothing: stop it with the
 * first errors so the figure is never reported.
 */
export function assertAllRan(
  records: TrialRecord[],
  expected: number,
  expectStatus?: 'pass',
): void {
  const broken = records.filter(
    (r) => r.status === 'error' || (expectStatus !== undefined && r.status !== expectStatus),
  );
  if (records.length !== expected || broken.length > 0) {
    const detail = broken
      .slice(0, 3)
      .map(
        (r) =>
          `${r.probe} #${r.trial}: ${r.status} ${r.error ?? r.grader?.reasons.join('; ') ?? ''}`,
      )
      .join('\n  ');
    throw new Error(
      `bench ran ${records.length}/${expected} trials, ${broken.length} not as scripted:\n  ${detail}`,
    );
  }
}
