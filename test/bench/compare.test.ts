import { describe, expect, it } from 'vitest';
import {
  benchValidity,
  compareResults,
  compareWithBaseline,
  difference,
} from '../../src/bench/compare.js';
import { oneSidedZ, pooled } from '../../src/bench/stats.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { trials } from './trial-record.js';

const rate = (passes: number, n: number) => pooled(trials({ passes, fails: n - passes }));

describe('difference (Newcombe hybrid score interval)', () => {
  it("matches Newcombe's (1998) worked example 56/70 vs 48/80", () => {
    const d = difference(rate(48, 80), rate(56, 70));
    expect(d.delta).toBeCloseTo(0.2, 10);
    expect(d.interval.low).toBeCloseTo(0.0524, 4);
    expect(d.interval.high).toBeCloseTo(0.3339, 4);
    expect(d.direction).toBe('better');
  });

  it('calls 0/3 → 3/3 better and 2/3 → 3/3 noise at 95% two-sided', () => {
    expect(difference(rate(0, 3), rate(3, 3)).direction).toBe('better');
    expect(difference(rate(3, 3), rate(0, 3)).direction).toBe('worse');
    expect(difference(rate(2, 3), rate(3, 3)).direction).toBe('noise');
  });

  it('shows 3/3 → 1/3 worse only at the one-sided bound a regression is judged with', () => {
    // Two-sided 95%: upper bound −0.667 + hypot(0.792 − 0.333, 1 − 0.438) ≈ +0.058, noise.
    const two = difference(rate(3, 3), rate(1, 3));
    expect(two.interval.high).toBeCloseTo(0.0585, 3);
    expect(two.direction).toBe('noise');
    // One-sided 95% (z = 1.645): ≈ −0.038, worse.
    const one = difference(rate(3, 3), rate(1, 3), oneSidedZ(0.95));
    expect(one.interval.high).toBeCloseTo(-0.0377, 3);
    expect(one.direction).toBe('worse');
  });

  it('says noise without graded trials on a side', () => {
    const d = difference(rate(0, 0), rate(3, 3));
    expect(d).toMatchObject({ delta: null, direction: 'noise', interval: { low: -1, high: 1 } });
  });
});

/** A probe's trials: `passes` of `n` for model-a. */
const probe = (name: string, passes: number, n: number, extra: Partial<TrialRecord> = {}) =>
  trials({ passes, fails: n - passes }, { probe: name, ...extra });

describe('compareResults', () => {
  it('calls a held-out gain beyond noise improved, with its evidence', () => {
    const before = [...probe('a', 0, 10), ...probe('h', 0, 6, { heldout: true })];
    const after = [...probe('a', 10, 10), ...probe('h', 6, 6, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.perProbe.map((p) => [p.probe, p.heldout, p.direction])).toEqual([
      ['a', false, 'better'],
      ['h', true, 'better'],
    ]);
    expect(c.overall).toMatchObject({ before: { passes: 0, n: 16 }, after: { passes: 16, n: 16 } });
    expect(c.outcome).toBe('improved');
    expect(c.accepted).toBe(true);
    expect(c.reasons[0]).toMatch(
      /^held-out pass rate rose beyond noise: 0\.0% \(0\/6\) → 100\.0% \(6\/6\), \+100\.0 pts, interval \[\+\d+\.\d, \+100\.0\] points$/,
    );
  });

  it('calls a held-out gain within noise inconclusive, and favourable', () => {
    const before = [...probe('a', 1, 3), ...probe('h', 1, 4, { heldout: true })];
    const after = [...probe('a', 1, 3), ...probe('h', 3, 4, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.outcome).toBe('inconclusive');
    expect(c.favourable).toBe(true);
    expect(c.accepted).toBe(false);
  });

  it('rejects a change that regresses a probe beyond noise even when held-out improves', () => {
    const before = [...probe('a', 10, 10), ...probe('h', 0, 4, { heldout: true })];
    const after = [...probe('a', 0, 10), ...probe('h', 4, 4, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.perProbe[0]?.direction).toBe('worse');
    expect(c.outcome).toBe('rejected');
    expect(c.reasons).toContain(
      "probe 'a' (model-a) regressed beyond noise: 100.0% (10/10) → 0.0% (0/10), -100.0 pts",
    );
  });

  it('rejects when the per-probe minimum falls beyond noise on another probe', () => {
    const before = [
      ...probe('a', 5, 5),
      ...probe('b', 5, 5),
      ...probe('h', 0, 5, { heldout: true }),
    ];
    const after = [
      ...probe('a', 3, 5),
      ...probe('b', 5, 5),
      ...probe('h', 5, 5, { heldout: true }),
    ];
    const c = compareResults(before, after);
    expect(c.minimum).toMatchObject({ beforeProbe: 'h', afterProbe: 'a' });
    // The weakest probe rose from 0/5 ('h') to 3/5 ('a'): the minimum did not fall.
    expect(c.minimum?.direction).not.toBe('worse');
    const worse = compareResults(
      [...probe('a', 5, 5), ...probe('b', 5, 5), ...probe('h', 5, 5, { heldout: true })],
      [...probe('a', 5, 5), ...probe('b', 2, 5), ...probe('h', 5, 5, { heldout: true })],
    );
    expect(worse.minimum?.direction).toBe('worse');
    expect(worse.outcome).toBe('rejected');
  });

  it('rejects an overfit change: held-out worse beyond noise', () => {
    const before = [...probe('a', 0, 10), ...probe('h', 6, 6, { heldout: true })];
    const after = [...probe('a', 10, 10), ...probe('h', 0, 6, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.outcome).toBe('rejected');
    expect(c.reasons).toContain(
      'held-out pass rate fell beyond noise: 100.0% (6/6) → 0.0% (0/6), -100.0 pts',
    );
  });

  it('never calls visible probes alone an improvement', () => {
    const c = compareResults(probe('a', 0, 10), probe('a', 10, 10));
    expect(c.heldout).toBeNull();
    expect(c.outcome).toBe('inconclusive');
    expect(c.reasons).toContain(
      'no held-out probes: visible probes alone never make an improvement',
    );
  });

  it('splits the error rate over planned looks: a borderline gain at one look is not one at three', () => {
    // 1/8 → 5/8: interval low +0.029 at one look, −0.060 with α split three ways.
    const before = [...probe('h', 1, 8, { heldout: true })];
    const after = [...probe('h', 5, 8, { heldout: true })];
    expect(compareResults(before, after, { confidence: 0.95, looks: 1 }).outcome).toBe('improved');
    const split = compareResults(before, after, { confidence: 0.95, looks: 3 });
    expect(split.outcome).toBe('inconclusive');
    expect(split.reasons.at(-1)).toContain(
      '(two-sided 98.3%: the 95% claim split over 3 planned looks) includes 0',
    );
  });

  it('leaves baseline trials out', () => {
    const before = [
      ...probe('a', 1, 3),
      ...probe('h', 0, 3, { heldout: true }),
      ...probe('a', 3, 3, { baseline: true }),
    ];
    const after = [
      ...probe('a', 1, 3),
      ...probe('h', 3, 3, { heldout: true }),
      ...probe('a', 0, 30, { baseline: true }),
    ];
    const c = compareResults(before, after);
    expect(c.perProbe).toHaveLength(2);
    expect(c.overall).toMatchObject({ before: { n: 6 }, after: { n: 6 } });
    expect(c.outcome).toBe('improved');
  });

  it('gives no verdict for result sets that do not cover the same probes', () => {
    const before = [
      ...probe('a', 1, 3),
      ...probe('h', 0, 3, { heldout: true }),
      ...probe('a', 1, 3, { model: 'model-b' }),
    ];
    const after = [
      ...probe('a', 1, 3),
      ...probe('h', 3, 3, { heldout: true }),
      ...probe('b', 1, 3, { model: 'model-b' }),
    ];
    const c = compareResults(before, after);
    expect(c.outcome).toBe('inconclusive');
    expect(c.reasons).toEqual(
      expect.arrayContaining([
        "probe 'a' (model-b) is only in the before results",
        "probe 'b' (model-b) is only in the after results",
      ]),
    );
  });

  it('gives no verdict when a probe has only errors on one side', () => {
    const before = [...probe('a', 1, 3), ...probe('h', 0, 3, { heldout: true })];
    const after = [
      ...trials({ passes: 0, fails: 0, errors: 3 }, { probe: 'a' }),
      ...probe('h', 3, 3, { heldout: true }),
    ];
    const c = compareResults(before, after);
    expect(c.accepted).toBe(false);
    expect(c.reasons).toContain("probe 'a' (model-a) has no graded trial after (all errors)");
  });
});

describe('compareWithBaseline', () => {
  it('names the probes that pass without the skill', () => {
    const skill = [...probe('a', 3, 3), ...probe('b', 1, 3)];
    const none = [...probe('a', 0, 3, { baseline: true }), ...probe('b', 2, 3, { baseline: true })];
    const b = compareWithBaseline(skill, none);
    expect(b?.beats).toBe(false);
    expect(b?.nonDiscriminating).toEqual(['b']);
  });

  it('says the skill helps when it beats no skill beyond noise', () => {
    const skill = [...probe('a', 6, 6), ...probe('b', 6, 6)];
    const none = [...probe('a', 0, 6, { baseline: true }), ...probe('b', 1, 6, { baseline: true })];
    expect(compareWithBaseline(skill, none)?.beats).toBe(true);
  });
});

describe('benchValidity', () => {
  it('is invalid above max_error_rate or with a cell short of graded trials', () => {
    const ok = benchValidity(probe('a', 2, 3), { maxErrorRate: 0.1, minGraded: 3 });
    expect(ok.valid).toBe(true);
    const errors = [
      ...probe('a', 2, 3),
      ...trials({ passes: 0, fails: 0, errors: 1 }, { probe: 'b', trial: 1 }),
    ];
    const bad = benchValidity(errors, { maxErrorRate: 0.1, minGraded: 1 });
    expect(bad.valid).toBe(false);
    expect(bad.reasons[0]).toBe('1 of 4 trials errored (25.0%), above max_error_rate 10.0%');
    expect(bad.reasons[1]).toBe(
      "probe 'b' (model-a) has 0 graded trials, fewer than the 1 required",
    );
  });
});
