/**
 * Before/after comparison of two benches of the same suite and the verdict it supports. The rule
 * is written out for maintainers in docs/decision-rule.md; in short:
 *
 * - A difference of two pass rates is judged with Newcombe's hybrid score interval ("method 10",
 *   built from each side's Wilson interval), which stays sensible at the small trial counts and
 *   0%/100% rates a bench produces.
 * - *improved*: the held-out probes' pooled difference has a two-sided interval above 0 at the
 *   stated confidence (split across the planned looks when trials may be added), and nothing
 *   below rejects. Visible probes alone never make an improvement.
 * - *rejected*: any probe, or the per-probe minimum, or the held-out pool, is worse beyond noise
 *   at a one-sided bound of the same confidence (the burden of proof is on the change: showing
 *   harm needs less evidence than showing a gain).
 * - *inconclusive*: everything else.
 *
 * Only runs with the skill are compared; baseline (no-skill) trials are judged separately by
 * `compareWithBaseline`. Errored trials carry no outcome; a bench with too many of them is
 * invalid before any verdict (see `benchValidity`).
 */
import { formatPercent, formatPoints } from './percent.js';
import {
  groupBy,
  type Interval,
  oneSidedZ,
  type PooledRate,
  pooled,
  twoSidedZ,
  wilson,
} from './stats.js';
import type { TrialRecord } from './types.js';

/** What one difference says on its own. */
export type Direction = 'better' | 'worse' | 'noise';

/** The three outcomes a candidate can get. */
export type Outcome = 'improved' | 'inconclusive' | 'rejected';

export interface DecisionRule {
  /** Confidence of every claim, e.g. 0.95. */
  confidence: number;
  /**
   * How many times the data may be looked at before deciding (1 + the planned extensions). The
   * improvement claim spends its error rate evenly across them (Bonferroni), so deciding at any
   * look keeps the overall false-improvement rate at or below 1 − confidence.
   */
  looks: number;
}

export const DEFAULT_RULE: DecisionRule = { confidence: 0.95, looks: 1 };

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
  /** Newcombe interval of the difference at the z it was computed with. */
  interval: Interval;
  direction: Direction;
}

export interface ProbeDifference extends Difference {
  model: string;
  probe: string;
  heldout: boolean;
}

export interface Comparison {
  perProbe: ProbeDifference[];
  overall: Difference;
  /** Pooled over held-out probes (all models), at the improvement claim's z; null without any. */
  heldout: Difference | null;
  /** The weakest probe before vs the weakest probe after (one-sided regression bound). */
  minimum: (Difference & { beforeProbe: string; afterProbe: string }) | null;
  outcome: Outcome;
  /** True only for *improved*. */
  accepted: boolean;
  /** The confidence the outcome is stated at, and the per-look share the improvement used. */
  confidence: number;
  looks: number;
  /** Probes (with the skill) regressing beyond noise. */
  regressions: ProbeDifference[];
  /** Probes whose estimate fell without being shown worse: worth more trials before deciding. */
  nearRegression: ProbeDifference[];
  /** The held-out estimate favours the candidate (used to decide on adding trials). */
  favourable: boolean;
  reasons: string[];
}

const side = (rate: PooledRate): Side => ({
  passRate: rate.passRate,
  n: rate.n,
  passes: rate.passes,
});

/**
 * Newcombe's hybrid score interval for p_after − p_before at `z`, and its direction: 'better' when
 * the interval lies above 0, 'worse' when below.
 */
export function difference(before: PooledRate, after: PooledRate, z = twoSidedZ(0.95)): Difference {
  if (before.passRate === null || after.passRate === null) {
    return {
      before: side(before),
      after: side(after),
      delta: null,
      interval: { low: -1, high: 1 },
      direction: 'noise',
    };
  }
  const p1 = before.passRate;
  const p2 = after.passRate;
  const w1 = wilson(before.passes, before.n, z);
  const w2 = wilson(after.passes, after.n, z);
  const delta = p2 - p1;
  const low = delta - Math.hypot(p2 - w2.low, w1.high - p1);
  const high = delta + Math.hypot(w2.high - p2, p1 - w1.low);
  const direction: Direction = low > 0 ? 'better' : high < 0 ? 'worse' : 'noise';
  return { before: side(before), after: side(after), delta, interval: { low, high }, direction };
}

const keyOf = (model: string, probe: string) => JSON.stringify([model, probe]);
const cellKey = (r: TrialRecord) => keyOf(r.model, r.probe);
const withSkill = (records: readonly TrialRecord[]) => records.filter((r) => !r.baseline);

/** z of the improvement claim: two-sided at the confidence, its error rate split over the looks. */
export function improvementZ(rule: DecisionRule): number {
  return twoSidedZ(1 - (1 - rule.confidence) / Math.max(1, rule.looks));
}

/** Compares the kept skill's bench (`before`) with a candidate's (`after`) and gives the verdict. */
export function compareResults(
  before: readonly TrialRecord[],
  after: readonly TrialRecord[],
  rule: DecisionRule = DEFAULT_RULE,
): Comparison {
  const zGain = improvementZ(rule);
  const zHarm = oneSidedZ(rule.confidence);
  const beforeCells = groupBy(withSkill(before), cellKey);
  const afterCells = groupBy(withSkill(after), cellKey);
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
    const diff = difference(pooled(b), pooled(a), zHarm);
    if (diff.delta === null) {
      comparable = false;
      reasons.push(
        `probe '${probe}' (${model}) has no graded trial ${diff.before.n === 0 ? 'before' : 'after'} (all errors)`,
      );
    }
    perProbe.push({ model, probe, heldout: [...b, ...a].some((r) => r.heldout), ...diff });
  }

  const overall = difference(pooled(withSkill(before)), pooled(withSkill(after)), zGain);
  const heldoutIds = new Set(perProbe.filter((p) => p.heldout).map((p) => keyOf(p.model, p.probe)));
  const inHeldout = (r: TrialRecord) => heldoutIds.has(cellKey(r));
  const heldoutBefore = pooled(withSkill(before).filter(inHeldout));
  const heldoutAfter = pooled(withSkill(after).filter(inHeldout));
  const heldout = heldoutIds.size === 0 ? null : difference(heldoutBefore, heldoutAfter, zGain);
  const heldoutHarm = heldoutIds.size === 0 ? null : difference(heldoutBefore, heldoutAfter, zHarm);

  const regressions = perProbe.filter((p) => p.direction === 'worse');
  for (const p of regressions) {
    reasons.push(`probe '${p.probe}' (${p.model}) regressed beyond noise: ${rateChange(p)}`);
  }
  const minimum = minimumDifference(perProbe, before, after, zHarm);
  if (minimum?.direction === 'worse') {
    reasons.push(
      `the per-probe minimum fell beyond noise: '${minimum.beforeProbe}' ${formatPercent(minimum.before.passRate)} → '${minimum.afterProbe}' ${formatPercent(minimum.after.passRate)}`,
    );
  }
  const nearRegression = perProbe.filter(
    (p) => p.direction === 'noise' && p.delta !== null && p.delta < 0,
  );

  let outcome: Outcome;
  if (!comparable) {
    outcome = 'inconclusive';
    reasons.push('the two benches do not cover the same graded probes, so no verdict is given');
  } else if (regressions.length > 0 || minimum?.direction === 'worse') {
    outcome = 'rejected';
    if (heldout !== null && heldoutHarm?.direction === 'worse') {
      reasons.push(`held-out pass rate fell beyond noise: ${rateChange(heldout)}`);
    }
  } else if (heldout === null || heldoutHarm === null) {
    outcome = 'inconclusive';
    reasons.push('no held-out probes: visible probes alone never make an improvement');
  } else if (heldout.delta === null) {
    outcome = 'inconclusive';
    reasons.push('no graded held-out trial on one side');
  } else if (heldoutHarm.direction === 'worse') {
    outcome = 'rejected';
    reasons.push(`held-out pass rate fell beyond noise: ${rateChange(heldout)}`);
  } else if (heldout.direction === 'better') {
    outcome = 'improved';
    reasons.push(
      `held-out pass rate rose beyond noise: ${rateChange(heldout)}, interval ${intervalText(heldout.interval)}${lookText(rule)}`,
      'no probe and not the per-probe minimum fell beyond noise',
    );
  } else {
    outcome = 'inconclusive';
    reasons.push(
      `held-out change is within noise: ${rateChange(heldout)}, interval ${intervalText(heldout.interval)}${lookText(rule)} includes 0`,
    );
  }
  return {
    perProbe,
    overall,
    heldout,
    minimum,
    outcome,
    accepted: outcome === 'improved',
    confidence: rule.confidence,
    looks: rule.looks,
    regressions,
    nearRegression,
    favourable: heldout?.delta !== null && heldout?.delta !== undefined && heldout.delta > 0,
    reasons,
  };
}

function rateChange(d: Difference): string {
  return `${formatPercent(d.before.passRate)} (${d.before.passes}/${d.before.n}) → ${formatPercent(d.after.passRate)} (${d.after.passes}/${d.after.n})${d.delta === null ? '' : `, ${formatPoints(d.delta)}`}`;
}

/** How the improvement claim's interval was computed when the error rate is split over looks. */
function lookText(rule: DecisionRule): string {
  if (rule.looks <= 1) return '';
  const each = (1 - (1 - rule.confidence) / rule.looks) * 100;
  return ` (two-sided ${each.toFixed(1)}%: the ${Math.round(rule.confidence * 1000) / 10}% claim split over ${rule.looks} planned looks)`;
}

export function intervalText(i: Interval): string {
  const pts = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)}`;
  return `[${pts(i.low)}, ${pts(i.high)}] points`;
}

/** The weakest probe of each side (all models), compared at the regression bound. */
function minimumDifference(
  perProbe: readonly ProbeDifference[],
  before: readonly TrialRecord[],
  after: readonly TrialRecord[],
  z: number,
): Comparison['minimum'] {
  const weakest = (pick: (p: ProbeDifference) => Side) =>
    perProbe
      .filter((p) => pick(p).passRate !== null)
      .reduce<ProbeDifference | null>(
        (min, p) =>
          min === null || (pick(p).passRate as number) < (pick(min).passRate as number) ? p : min,
        null,
      );
  const b = weakest((p) => p.before);
  const a = weakest((p) => p.after);
  if (b === null || a === null) return null;
  const cell = (records: readonly TrialRecord[], p: ProbeDifference) =>
    pooled(withSkill(records).filter((r) => r.model === p.model && r.probe === p.probe));
  return {
    ...difference(cell(before, b), cell(after, a), z),
    beforeProbe: b.probe,
    afterProbe: a.probe,
  };
}

/** Whether the skill beats the same agent without it, and which probes do not tell them apart. */
export interface BaselineComparison {
  difference: Difference;
  beats: boolean;
  /** Probes whose no-skill trials pass at least as often as the skill's. */
  nonDiscriminating: string[];
  confidence: number;
}

/** The kept skill's trials against the no-skill baseline's (two-sided at the confidence). */
export function compareWithBaseline(
  skill: readonly TrialRecord[],
  baseline: readonly TrialRecord[],
  confidence = DEFAULT_RULE.confidence,
): BaselineComparison | null {
  const withOut = baseline.filter((r) => r.baseline);
  if (withOut.length === 0) return null;
  const diff = difference(pooled(withOut), pooled(withSkill(skill)), twoSidedZ(confidence));
  const skillCells = groupBy(withSkill(skill), cellKey);
  const nonDiscriminating = new Set<string>();
  for (const [key, cell] of groupBy(withOut, cellKey)) {
    const own = pooled(skillCells.get(key) ?? []);
    const none = pooled(cell);
    if (none.passRate !== null && (own.passRate === null || none.passRate >= own.passRate)) {
      nonDiscriminating.add((cell[0] as TrialRecord).probe);
    }
  }
  return {
    difference: diff,
    beats: diff.direction === 'better',
    nonDiscriminating: [...nonDiscriminating].sort(),
    confidence,
  };
}

/** Whether a bench may be used for a verdict at all. */
export interface Validity {
  valid: boolean;
  trials: number;
  errors: number;
  errorShare: number;
  reasons: string[];
}

/**
 * A bench whose error share exceeds `maxErrorRate`, or with a cell graded fewer than
 * `minGraded` times, is invalid: no verdict may come from what is left.
 */
export function benchValidity(
  records: readonly TrialRecord[],
  opts: { maxErrorRate: number; minGraded: number },
): Validity {
  const errors = records.filter((r) => r.status === 'error').length;
  const share = records.length === 0 ? 1 : errors / records.length;
  const reasons: string[] = [];
  if (records.length === 0) reasons.push('no trial ran');
  if (share > opts.maxErrorRate) {
    reasons.push(
      `${errors} of ${records.length} trials errored (${formatPercent(share)}), above max_error_rate ${formatPercent(opts.maxErrorRate)}`,
    );
  }
  for (const cell of groupBy(records, (r) =>
    JSON.stringify([r.model, r.baseline, r.probe]),
  ).values()) {
    const graded = cell.filter((r) => r.status !== 'error').length;
    if (graded < opts.minGraded) {
      const first = cell[0] as TrialRecord;
      reasons.push(
        `probe '${first.probe}' (${first.model}${first.baseline ? ', no skill' : ''}) has ${graded} graded trial${graded === 1 ? '' : 's'}, fewer than the ${opts.minGraded} required`,
      );
    }
  }
  return {
    valid: reasons.length === 0,
    trials: records.length,
    errors,
    errorShare: share,
    reasons,
  };
}
