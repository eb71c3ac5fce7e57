import { addUsage, type Usage, zeroUsage } from '../model/usage.js';
import type { IsolationLevel, TrialRecord } from './types.js';

/** Two-sided 95% normal quantile. */
export const Z95 = 1.959963984540054;

/**
 * The standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, relative
 * error below 1.2e-9 — far finer than any interval a bench reports).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  // Horner's rule over coefficients listed from the highest power down.
  const poly = (coefficients: readonly number[], x: number) =>
    coefficients.reduce((acc, c) => acc * x + c, 0);
  const A = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const B = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
    -13.28068155288572, 1,
  ];
  const C = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783,
  ];
  const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416, 1];
  const tail = (q: number) => poly(C, q) / poly(D, q);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (poly(A, r) * q) / poly(B, r);
}

/** z for a two-sided interval at `confidence` (0.95 → 1.96). */
export const twoSidedZ = (confidence: number): number => normalQuantile(1 - (1 - confidence) / 2);
/** z for a one-sided bound at `confidence` (0.95 → 1.645). */
export const oneSidedZ = (confidence: number): number => normalQuantile(confidence);

/** C(n, k) as a float; exact for the trial counts a bench uses. */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/**
 * Unbiased pass@k from n graded trials with c passes: the chance that at least one of k trials
 * drawn without replacement passes, 1 − C(n−c, k)/C(n, k). Null when n < k (not estimable).
 */
export function passAtK(n: number, c: number, k: number): number | null {
  if (k < 1 || n < k) return null;
  return 1 - choose(n - c, k) / choose(n, k);
}

/** Unbiased pass^k: the chance that all k trials drawn without replacement pass, C(c, k)/C(n, k). */
export function passHatK(n: number, c: number, k: number): number | null {
  if (k < 1 || n < k) return null;
  return choose(c, k) / choose(n, k);
}

export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson score interval for a binomial proportion (default 95%). n = 0 says nothing: {0, 1}.
 * center = (p + z²/2n) / (1 + z²/n), half-width = z·√(p(1-p)/n + z²/4n²) / (1 + z²/n).
 */
export function wilson(successes: number, n: number, z: number = Z95): Interval {
  if (n <= 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Float rounding can put the bound a hair past p at p = 0 or 1; the interval must contain p.
  return {
    low: Math.max(0, Math.min(p, center - half)),
    high: Math.min(1, Math.max(p, center + half)),
  };
}

/** Stats of one (model, probe, with/without skill) cell. Errors count neither as pass nor fail. */
export interface CellStats {
  model: string;
  probe: string;
  baseline: boolean;
  heldout: boolean;
  /** All trials of the cell, errors included. */
  trials: number;
  /** Graded trials: passes + fails. */
  n: number;
  passes: number;
  fails: number;
  errors: number;
  /** passes / n; null when no trial was graded. */
  passRate: number | null;
  interval: Interval;
  /** Mean grader score (score when given, else 1 for pass / 0 for fail); null when n = 0. */
  meanScore: number | null;
  /** The k of pass@k and pass^k. */
  k: number;
  /** Unbiased pass@k over the graded trials; null when fewer than k were graded. */
  passAtK: number | null;
  /** Unbiased pass^k over the graded trials; null when fewer than k were graded. */
  passHatK: number | null;
  /** Share of trials that invoked the skill, over trials that recorded it; null when none did. */
  triggerRate: number | null;
}

/** A pooled pass rate over graded trials. */
export interface PooledRate {
  passes: number;
  n: number;
  passRate: number | null;
  interval: Interval;
}

export interface ModelStats {
  model: string;
  baseline: boolean;
  probes: number;
  trials: number;
  errors: number;
  /** Mean of the per-probe pass rates (each probe weighs the same); null when nothing was graded. */
  meanPassRate: number | null;
  /** The weakest probe: averages hide one. */
  minProbe: { probe: string; passRate: number } | null;
  /** Pooled over graded trials of held-out probes; null when there are none. */
  heldoutPassRate: number | null;
  heldout: PooledRate | null;
  /** Pooled over graded trials of the other probes. */
  nonHeldoutPassRate: number | null;
  nonHeldout: PooledRate;
  triggerRate: number | null;
}

export interface Summary {
  cells: CellStats[];
  models: ModelStats[];
  isolation: IsolationLevel[];
  totals: { trials: number; errors: number; usage: Usage; cost_usd: number };
}

const rate = (num: number, den: number): number | null => (den > 0 ? num / den : null);
const mean = (xs: number[]): number | null =>
  xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;

function triggerRateOf(records: readonly TrialRecord[]): number | null {
  const known = records.filter((r) => r.skill_triggered !== null);
  return rate(known.filter((r) => r.skill_triggered === true).length, known.length);
}

export function pooled(records: readonly TrialRecord[]): PooledRate {
  const passes = records.filter((r) => r.status === 'pass').length;
  const n = passes + records.filter((r) => r.status === 'fail').length;
  return { passes, n, passRate: rate(passes, n), interval: wilson(passes, n) };
}

export function cellStats(records: readonly TrialRecord[], k = 1): CellStats {
  const first = records[0];
  if (first === undefined) throw new RangeError('cellStats needs at least one record');
  const graded = records.filter((r) => r.status !== 'error');
  const passes = graded.filter((r) => r.status === 'pass').length;
  const n = graded.length;
  const scores = graded.map((r) => r.grader?.score ?? (r.status === 'pass' ? 1 : 0));
  return {
    model: first.model,
    probe: first.probe,
    baseline: first.baseline,
    heldout: records.some((r) => r.heldout),
    trials: records.length,
    n,
    passes,
    fails: n - passes,
    errors: records.length - n,
    passRate: rate(passes, n),
    interval: wilson(passes, n),
    meanScore: mean(scores),
    k,
    passAtK: passAtK(n, passes, k),
    passHatK: passHatK(n, passes, k),
    triggerRate: triggerRateOf(records),
  };
}

/** Groups by key, keeping first-seen order of keys. */
export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function modelStats(model: string, baseline: boolean, records: TrialRecord[], cells: CellStats[]) {
  const rated = cells.filter((c): c is CellStats & { passRate: number } => c.passRate !== null);
  const weakest = rated.reduce<(typeof rated)[number] | null>(
    (min, c) => (min === null || c.passRate < min.passRate ? c : min),
    null,
  );
  const heldoutRecords = records.filter((r) => r.heldout);
  const heldout = heldoutRecords.length > 0 ? pooled(heldoutRecords) : null;
  const nonHeldout = pooled(records.filter((r) => !r.heldout));
  return {
    model,
    baseline,
    probes: cells.length,
    trials: records.length,
    errors: records.filter((r) => r.status === 'error').length,
    meanPassRate: mean(rated.map((c) => c.passRate)),
    minProbe: weakest === null ? null : { probe: weakest.probe, passRate: weakest.passRate },
    heldoutPassRate: heldout?.passRate ?? null,
    heldout,
    nonHeldoutPassRate: nonHeldout.passRate,
    nonHeldout,
    triggerRate: triggerRateOf(records),
  } satisfies ModelStats;
}

/** Per-cell and per-model statistics of a set of trials, sorted by model, skill-first, probe. */
export function summarise(records: readonly TrialRecord[], k = 1): Summary {
  const cellGroups = groupBy(records, (r) => JSON.stringify([r.model, r.baseline, r.probe]));
  const cells = [...cellGroups.values()]
    .map((group) => cellStats(group, k))
    .sort(
      (a, b) =>
        byText(a.model, b.model) ||
        Number(a.baseline) - Number(b.baseline) ||
        byText(a.probe, b.probe),
    );
  const modelGroups = groupBy(records, (r) => JSON.stringify([r.model, r.baseline]));
  const models = [...modelGroups.values()]
    .map((group) => {
      const { model, baseline } = group[0] as TrialRecord;
      const own = cells.filter((c) => c.model === model && c.baseline === baseline);
      return modelStats(model, baseline, group, own);
    })
    .sort((a, b) => byText(a.model, b.model) || Number(a.baseline) - Number(b.baseline));
  return {
    cells,
    models,
    isolation: [...new Set(records.map((r) => r.isolation))].sort(byText),
    totals: {
      trials: records.length,
      errors: records.filter((r) => r.status === 'error').length,
      usage: records.reduce((u, r) => addUsage(u, r.usage), zeroUsage()),
      cost_usd: records.reduce((sum, r) => sum + r.cost_usd, 0),
    },
  };
}
