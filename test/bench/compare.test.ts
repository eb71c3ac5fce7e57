import { describe, expect, it } from 'vitest';
import { compareResults, difference } from '../../src/bench/compare.js';
import { pooled } from '../../src/bench/stats.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { trials } from './trial-record.js';

const rate = (passes: number, n: number) => pooled(trials({ passes, fails: n - passes }));

describe('difference (Newcombe hybrid score interval)', () => {
  it("matches Newcombe's (1998) worked example 56/70 vs 48/80", () => {
    const d = difference(rate(48, 80), rate(56, 70));
    expect(d.delta).toBeCloseTo(0.2, 10);
    expect(d.interval.low).toBeCloseTo(0.0524, 4);
    expect(d.interval.high).toBeCloseTo(0.3339, 4);
    expect(d.verdict).toBe('improved');
  });

  it('calls 0/3 → 3/3 an improvement and 2/3 → 3/3 noise', () => {
    expect(difference(rate(0, 3), rate(3, 3)).verdict).toBe('improved');
    expect(difference(rate(3, 3), rate(0, 3)).verdict).toBe('regressed');
    expect(difference(rate(2, 3), rate(3, 3)).verdict).toBe('noise');
  });

  it('says noise without graded trials on a side', () => {
    const d = difference(rate(0, 0), rate(3, 3));
    expect(d).toMatchObject({ delta: null, verdict: 'noise', interval: { low: -1, high: 1 } });
  });
});

/** A probe's trials: `passes` of `n` for model-a. */
const probe = (name: string, passes: number, n: number, extra: Partial<TrialRecord> = {}) =>
  trials({ passes, fails: n - passes }, { probe: name, ...extra });

describe('compareResults', () => {
  it('accepts a clear improvement with a better held-out rate', () => {
    const before = [...probe('a', 0, 10), ...probe('h', 1, 4, { heldout: true })];
    const after = [...probe('a', 10, 10), ...probe('h', 3, 4, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.perProbe.map((p) => [p.probe, p.heldout, p.verdict])).toEqual([
      ['a', false, 'improved'],
      ['h', true, 'noise'],
    ]);
    expect(c.perProbe[0]).toMatchObject({
      before: { passRate: 0, n: 10 },
      after: { passRate: 1, n: 10 },
      delta: 1,
    });
    expect(c.overall).toMatchObject({
      before: { passes: 1, n: 14 },
      after: { passes: 13, n: 14 },
      verdict: 'improved',
    });
    expect(c.heldout).toMatchObject({
      before: { passRate: 0.25 },
      after: { passRate: 0.75 },
      delta: 0.5,
    });
    expect(c.accepted).toBe(true);
    expect(c.reasons).toEqual([
      'held-out pass rate improved: 25.0% → 75.0% (+50.0 pts)',
      'no probe regressed beyond noise',
    ]);
  });

  it('rejects a change that regresses a probe beyond noise even when held-out improves', () => {
    const before = [...probe('a', 10, 10), ...probe('h', 0, 4, { heldout: true })];
    const after = [...probe('a', 0, 10), ...probe('h', 4, 4, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.perProbe[0]?.verdict).toBe('regressed');
    expect(c.accepted).toBe(false);
    expect(c.reasons).toContain("probe 'a' (model-a) regressed beyond noise: 100.0% → 0.0%");
  });

  it('tolerates a drop within noise', () => {
    const before = [...probe('a', 3, 3), ...probe('h', 0, 3, { heldout: true })];
    const after = [...probe('a', 2, 3), ...probe('h', 1, 3, { heldout: true })];
    const c = compareResults(before, after);
    expect(c.perProbe[0]?.verdict).toBe('noise');
    expect(c.accepted).toBe(true);
  });

  it('needs the held-out pass rate strictly better', () => {
    const before = [...probe('a', 1, 3), ...probe('h', 2, 3, { heldout: true })];
    const same = [...probe('a', 3, 3), ...probe('h', 2, 3, { heldout: true })];
    const c = compareResults(before, same);
    expect(c.accepted).toBe(false);
    expect(c.reasons).toContain('held-out pass rate not better: 66.7% → 66.7% (±0.0 pts)');
  });

  it('needs held-out probes at all', () => {
    const c = compareResults(probe('a', 0, 10), probe('a', 10, 10));
    expect(c.heldout).toBeNull();
    expect(c.accepted).toBe(false);
    expect(c.reasons).toContain(
      'no held-out probes: an improvement is accepted only on held-out evidence',
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
      ...probe('h', 2, 3, { heldout: true }),
      ...probe('a', 0, 30, { baseline: true }),
    ];
    const c = compareResults(before, after);
    expect(c.perProbe).toHaveLength(2);
    expect(c.overall).toMatchObject({ before: { n: 6 }, after: { n: 6 } });
    expect(c.accepted).toBe(true);
  });

  it('compares per model and refuses result sets that do not cover the same probes', () => {
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
    expect(c.perProbe.map((p) => [p.model, p.probe])).toEqual([
      ['model-a', 'a'],
      ['model-a', 'h'],
    ]);
    expect(c.accepted).toBe(false);
    expect(c.reasons).toEqual(
      expect.arrayContaining([
        "probe 'a' (model-b) is only in the before results",
        "probe 'b' (model-b) is only in the after results",
      ]),
    );
  });

  it('does not accept when a probe has only errors on one side', () => {
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
