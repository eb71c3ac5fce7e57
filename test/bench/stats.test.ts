import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  normalQuantile,
  oneSidedZ,
  passAtK,
  passHatK,
  summarise,
  twoSidedZ,
  wilson,
  Z95,
} from '../../src/bench/stats.js';
import { trialRecord, trials } from './trial-record.js';

describe('wilson', () => {
  // Reference values from the closed form, computed independently (z = 1.959964).
  it.each([
    [0, 10, 0, 0.277533],
    [5, 10, 0.236593, 0.763407],
    [10, 10, 0.722467, 1],
    [1, 3, 0.061492, 0.79234],
    [2, 3, 0.20766, 0.938508],
    [0, 3, 0, 0.561497],
    [3, 3, 0.438503, 1],
    [7, 20, 0.181192, 0.567146],
  ])('%i/%i → [%f, %f]', (s, n, low, high) => {
    const interval = wilson(s, n);
    expect(interval.low).toBeCloseTo(low, 5);
    expect(interval.high).toBeCloseTo(high, 5);
  });

  it('says nothing for n = 0', () => {
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });

  it('narrows with a smaller z', () => {
    const wide = wilson(5, 10);
    const narrow = wilson(5, 10, 1);
    expect(narrow.low).toBeGreaterThan(wide.low);
    expect(narrow.high).toBeLessThan(wide.high);
  });

  it('stays inside [0, 1] and contains the observed rate', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 10_000 })
          .chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n))),
        ([s, n]) => {
          const { low, high } = wilson(s, n);
          const p = s / n;
          expect(low).toBeGreaterThanOrEqual(0);
          expect(high).toBeLessThanOrEqual(1);
          expect(low).toBeLessThanOrEqual(p);
          expect(high).toBeGreaterThanOrEqual(p);
          expect(high - low).toBeGreaterThan(0);
        },
      ),
    );
  });
});

describe('summarise', () => {
  it('counts errors apart from passes and fails', () => {
    const records = trials({ passes: 2, fails: 1, errors: 2 });
    const { cells, totals } = summarise(records);
    expect(cells).toHaveLength(1);
    expect(cells[0]).toMatchObject({
      model: 'model-a',
      probe: 'csv/sums',
      trials: 5,
      n: 3,
      passes: 2,
      fails: 1,
      errors: 2,
      k: 1,
    });
    expect(cells[0]?.passAtK).toBeCloseTo(2 / 3, 10);
    expect(cells[0]?.passHatK).toBeCloseTo(2 / 3, 10);
    expect(cells[0]?.passRate).toBeCloseTo(2 / 3, 10);
    expect(cells[0]?.interval.low).toBeCloseTo(0.20766, 5);
    expect(totals.trials).toBe(5);
    expect(totals.errors).toBe(2);
    expect(totals.usage).toEqual({
      input_tokens: 500,
      output_tokens: 100,
      cache_creation_input_tokens: 25,
      cache_read_input_tokens: 250,
    });
    expect(totals.cost_usd).toBeCloseTo(0.005, 10);
  });

  it('uses the grader score when present, else 1/0', () => {
    const records = [
      trialRecord({ trial: 1, status: 'pass', grader: { pass: true, score: 0.8, reasons: [] } }),
      trialRecord({ trial: 2, status: 'fail', grader: { pass: false, score: 0.3, reasons: [] } }),
      trialRecord({ trial: 3, status: 'pass' }),
      trialRecord({ trial: 4, status: 'error' }),
    ];
    expect(summarise(records).cells[0]?.meanScore).toBeCloseTo((0.8 + 0.3 + 1) / 3, 10);
  });

  it('estimates pass@k and pass^k without bias for the configured k, and none when n < k', () => {
    const all = summarise(trials({ passes: 3, fails: 0, errors: 1 }), 2).cells[0];
    expect(all).toMatchObject({ k: 2, passAtK: 1, passHatK: 1, passRate: 1 });
    const none = summarise(trials({ passes: 0, fails: 0, errors: 2 }), 2).cells[0];
    expect(none).toMatchObject({
      n: 0,
      passRate: null,
      meanScore: null,
      passAtK: null,
      passHatK: null,
    });
    expect(none?.interval).toEqual({ low: 0, high: 1 });
    const fails = summarise(trials({ passes: 0, fails: 3 }), 2).cells[0];
    expect(fails).toMatchObject({ passAtK: 0, passHatK: 0, passRate: 0 });
    // 1 graded trial of 3 (2 errors) says nothing about k = 3: not "all passed".
    const one = summarise(trials({ passes: 1, fails: 0, errors: 2 }), 3).cells[0];
    expect(one).toMatchObject({ n: 1, passAtK: null, passHatK: null });
  });

  it('matches hand-computed pass@k and pass^k', () => {
    // n = 5, c = 2, k = 2: pass@2 = 1 − C(3,2)/C(5,2) = 1 − 3/10; pass^2 = C(2,2)/C(5,2) = 1/10.
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    expect(passHatK(5, 2, 2)).toBeCloseTo(0.1, 12);
    // n = 10, c = 3, k = 3: 1 − C(7,3)/C(10,3) = 1 − 35/120; C(3,3)/C(10,3) = 1/120.
    expect(passAtK(10, 3, 3)).toBeCloseTo(1 - 35 / 120, 12);
    expect(passHatK(10, 3, 3)).toBeCloseTo(1 / 120, 12);
    // c = 0 and c = n are certain either way; k = 1 is the plain pass rate.
    expect([passAtK(4, 0, 2), passHatK(4, 0, 2)]).toEqual([0, 0]);
    expect([passAtK(4, 4, 2), passHatK(4, 4, 2)]).toEqual([1, 1]);
    expect(passAtK(4, 1, 1)).toBeCloseTo(0.25, 12);
    // n < k cannot be estimated.
    expect([passAtK(2, 2, 3), passHatK(2, 1, 3)]).toEqual([null, null]);
  });

  it('matches hand-computed Wilson intervals and normal quantiles', () => {
    // 3/3 at z = 1.96: low = n / (n + z²) = 3 / 6.8415.
    expect(wilson(3, 3).low).toBeCloseTo(3 / (3 + Z95 * Z95), 10);
    expect(wilson(0, 3).high).toBeCloseTo((Z95 * Z95) / (3 + Z95 * Z95), 10);
    // 1/3 at z = 1.645 (one-sided 95%): centre (1/3 + z²/6)/(1 + z²/3), half-width from the formula.
    const z = oneSidedZ(0.95);
    expect(z).toBeCloseTo(1.6448536, 6);
    const centre = (1 / 3 + (z * z) / 6) / (1 + (z * z) / 3);
    const half = (z * Math.sqrt(((1 / 3) * (2 / 3)) / 3 + (z * z) / 36)) / (1 + (z * z) / 3);
    expect(wilson(1, 3, z).low).toBeCloseTo(centre - half, 10);
    expect(wilson(1, 3, z).high).toBeCloseTo(centre + half, 10);
    expect(twoSidedZ(0.95)).toBeCloseTo(Z95, 8);
    expect(normalQuantile(0.005)).toBeCloseTo(-2.5758293, 6);
    expect(normalQuantile(0.5)).toBe(0);
  });

  it('gives per model the mean, the weakest probe and held-out apart', () => {
    const records = [
      ...trials({ passes: 3, fails: 0 }, { probe: 'a' }),
      ...trials({ passes: 1, fails: 2 }, { probe: 'b' }),
      ...trials({ passes: 2, fails: 2 }, { probe: 'c', heldout: true }),
      ...trials({ passes: 0, fails: 3 }, { probe: 'a', baseline: true }),
      ...trials({ passes: 3, fails: 0 }, { probe: 'a', model: 'model-b', isolation: 'process' }),
    ];
    const { models, cells, isolation } = summarise(records);
    expect(cells.map((c) => [c.model, c.baseline, c.probe])).toEqual([
      ['model-a', false, 'a'],
      ['model-a', false, 'b'],
      ['model-a', false, 'c'],
      ['model-a', true, 'a'],
      ['model-b', false, 'a'],
    ]);
    const [a, aBaseline, b] = models;
    expect(a).toMatchObject({ model: 'model-a', baseline: false, probes: 3, trials: 10 });
    expect(a?.meanPassRate).toBeCloseTo((1 + 1 / 3 + 0.5) / 3, 10);
    expect(a?.minProbe?.probe).toBe('b');
    expect(a?.minProbe?.passRate).toBeCloseTo(1 / 3, 10);
    expect(a?.heldoutPassRate).toBe(0.5);
    expect(a?.heldout).toMatchObject({ passes: 2, n: 4 });
    expect(a?.nonHeldoutPassRate).toBeCloseTo(4 / 6, 10);
    expect(aBaseline).toMatchObject({
      model: 'model-a',
      baseline: true,
      meanPassRate: 0,
      heldoutPassRate: null,
    });
    expect(b).toMatchObject({
      model: 'model-b',
      meanPassRate: 1,
      minProbe: { probe: 'a', passRate: 1 },
    });
    expect(isolation).toEqual(['bubblewrap', 'process']);
  });

  it('computes the trigger rate over trials that recorded it', () => {
    const records = [
      trialRecord({ trial: 1, skill_triggered: true }),
      trialRecord({ trial: 2, skill_triggered: false }),
      trialRecord({ trial: 3, skill_triggered: true }),
      trialRecord({ trial: 4, skill_triggered: null }),
    ];
    expect(summarise(records).cells[0]?.triggerRate).toBeCloseTo(2 / 3, 10);
    expect(summarise([trialRecord()]).cells[0]?.triggerRate).toBeNull();
  });

  it('does not depend on record order', () => {
    const records = [
      ...trials({ passes: 2, fails: 1, errors: 1 }, { probe: 'a' }),
      ...trials({ passes: 1, fails: 1 }, { probe: 'b', model: 'model-b' }),
      ...trials({ passes: 0, fails: 2 }, { probe: 'b', baseline: true }),
    ];
    const expected = summarise(records);
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), (shuffled) => {
        const got = summarise(shuffled);
        expect(got.cells).toEqual(expected.cells);
        expect(got.models).toEqual(expected.models);
      }),
    );
  });
});
