/**
 * Before/after comparison of two benches of the same suite (CHAIN.md §6.4).
 *
 * Noise: a difference counts only when the 95% Newcombe interval for the difference of two
 * independent proportions (his "method 10": the hybrid score interval built from each side's
 * Wilson interval) excludes 0. Unlike a normal-approximation z-test it stays sensible at the
 * small trial counts and 0%/100% rates a bench produces (3 trials per probe by default).
 *
 * Only runs with the skill are compared; baseline (no-skill) trials are left out. Errors are
 * left out of every rate, as in the summary.
 */
import { formatPercent, formatPoints } from './percent.js';
import { groupBy, type Interval, type PooledRate, pooled, wilson } from './stats.js';
import type { TrialRecord } from './types.js';

export type Verdict = 'improved' | 'regressed' | 'noise';

export interface Side {
  passRate: number | null;
  n: number;
  passes: number;
}

export interface Difference {
  before: Side;
  after: Side;
  /** after − before; null when either side has no graded trial. */
  delta: number | null;
  /** 95% Newcombe interval of the difference. */
  interval: Interval;
  verdict: Verdict;
}

export interface ProbeDifference extends Difference {
  model: string;
  probe: string;
  heldout: boolean;
}

export interface Comparison {
  perProbe: ProbeDifference[];
  overall: Difference;
  /** Pooled over held-out probes (all models); null when the suite has none. */
  heldout: Difference | null;
  accepted: boolean;
  reasons: string[];
}

const side = (rate: PooledRate): Side => ({
  passRate: rate.passRate,
  n: rate.n,
  passes: rate.passes,
});

/** Newcombe's hybrid score interval for p_after − p_before, and what it says. */
export function difference(before: PooledRate, after: PooledRate): Difference {
  if (before.passRate === null || after.passRate === null) {
    return {
      before: side(before),
      after: side(after),
      delta: null,
      interval: { low: -1, high: 1 },
      verdict: 'noise',
    };
  }
  const p1 = before.passRate;
  const p2 = after.passRate;
  const w1 = wilson(before.passes, before.n);
  const w2 = wilson(after.passes, after.n);
  const delta = p2 - p1;
  const low = delta - Math.hypot(p2 - w2.low, w1.high - p1);
  const high = delta + Math.hypot(w2.high - p2, p1 - w1.low);
  const verdict: Verdict = low > 0 ? 'improved' : high < 0 ? 'regressed' : 'noise';
  return { before: side(before), after: side(after), delta, interval: { low, high }, verdict };
}

const keyOf = (model: string, probe: string) => JSON.stringify([model, probe]);
const cellKey = (r: TrialRecord) => keyOf(r.model, r.probe);

/** Compares two result sets of the same suite; `accepted` is the §6.4 rule for keeping an improvement. */
export function compareResults(
  before: readonly TrialRecord[],
  after: readonly TrialRecord[],
): Comparison {
  const beforeCells = groupBy(
    before.filter((r) => !r.baseline),
    cellKey,
  );
  const afterCells = groupBy(
    after.filter((r) => !r.baseline),
    cellKey,
  );
  const reasons: string[] = [];
  let comparable = true;

  const perProbe: ProbeDifference[] = [];
  const keys = [...new Set([...beforeCells.keys(), ...afterCells.keys()])].sort();
  for (const key of keys) {
    const b = beforeCells.get(key);
    const a = afterCells.get(key);
    const [model, probe] = JSON.parse(key) as [string, string];
    if (b === undefined || a === undefined) {
      comparable = false;
      reasons.push(
        `probe '${probe}' (${model}) is only in the ${b === undefined ? 'after' : 'before'} results`,
      );
      continue;
    }
    const diff = difference(pooled(b), pooled(a));
    if (diff.delta === null) {
      comparable = false;
      reasons.push(
        `probe '${probe}' (${model}) has no graded trial ${diff.before.n === 0 ? 'before' : 'after'} (all errors)`,
      );
    }
    perProbe.push({ model, probe, heldout: [...b, ...a].some((r) => r.heldout), ...diff });
  }

  const kept = (records: readonly TrialRecord[]) => records.filter((r) => !r.baseline);
  const overall = difference(pooled(kept(before)), pooled(kept(after)));
  const heldoutIds = new Set(perProbe.filter((p) => p.heldout).map((p) => keyOf(p.model, p.probe)));
  const inHeldout = (r: TrialRecord) => heldoutIds.has(cellKey(r));
  const heldout =
    heldoutIds.size === 0
      ? null
      : difference(pooled(kept(before).filter(inHeldout)), pooled(kept(after).filter(inHeldout)));

  const regressed = perProbe.filter((p) => p.verdict === 'regressed');
  for (const p of regressed) {
    reasons.push(
      `probe '${p.probe}' (${p.model}) regressed beyond noise: ${formatPercent(p.before.passRate)} → ${formatPercent(p.after.passRate)}`,
    );
  }
  let heldoutBetter = false;
  if (heldout === null) {
    reasons.push('no held-out probes: an improvement is accepted only on held-out evidence');
  } else if (heldout.delta === null) {
    reasons.push('no graded held-out trial on one side');
  } else {
    heldoutBetter = heldout.delta > 0;
    const change = `${formatPercent(heldout.before.passRate)} → ${formatPercent(heldout.after.passRate)} (${formatPoints(heldout.delta)})`;
    reasons.push(
      heldoutBetter
        ? `held-out pass rate improved: ${change}`
        : `held-out pass rate not better: ${change}`,
    );
  }
  const accepted = comparable && heldoutBetter && regressed.length === 0;
  if (accepted) reasons.push('no probe regressed beyond noise');
  return { perProbe, overall, heldout, accepted, reasons };
}
