import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatShard,
  InvalidShardError,
  parseShard,
  planTrials,
  selectShard,
  type TrialKey,
  trialKeyText,
} from '../../src/bench/shard.js';
import type { Probe } from '../../src/bench/types.js';

const probe = (id: string) => ({ id }) as Probe;
const suite = { probes: [probe('a/one'), probe('a/two')], models: ['m1', 'm2'], trials: 3 };

describe('planTrials', () => {
  it('lists probe × model × trial in order, trials from 1', () => {
    const keys = planTrials(suite, { baseline: false });
    expect(keys).toHaveLength(12);
    expect(keys.slice(0, 4)).toEqual([
      { probe: 'a/one', model: 'm1', trial: 1, baseline: false },
      { probe: 'a/one', model: 'm1', trial: 2, baseline: false },
      { probe: 'a/one', model: 'm1', trial: 3, baseline: false },
      { probe: 'a/one', model: 'm2', trial: 1, baseline: false },
    ]);
    expect(keys.at(-1)).toEqual({ probe: 'a/two', model: 'm2', trial: 3, baseline: false });
  });

  it('adds a no-skill copy of every trial for the baseline', () => {
    const keys = planTrials(suite, { baseline: true });
    expect(keys).toHaveLength(24);
    expect(keys.slice(0, 12)).toEqual(planTrials(suite, { baseline: false }));
    expect(keys.slice(12)).toEqual(
      planTrials(suite, { baseline: false }).map((k) => ({ ...k, baseline: true })),
    );
  });
});

const keyArb = fc.record({
  probe: fc.constantFrom('a', 'b', 'c/d', 'e'),
  model: fc.constantFrom('m1', 'm2', 'm3'),
  trial: fc.integer({ min: 1, max: 5 }),
  baseline: fc.boolean(),
});
const uniqueKeys = fc.uniqueArray(keyArb, { selector: trialKeyText, maxLength: 120 });

describe('selectShard', () => {
  it('splits into disjoint, complete and balanced shards', () => {
    fc.assert(
      fc.property(uniqueKeys, fc.integer({ min: 1, max: 9 }), (keys, count) => {
        const shards = Array.from({ length: count }, (_, i) =>
          selectShard(keys, { index: i + 1, count }),
        );
        const all = shards.flat().map(trialKeyText);
        expect(new Set(all).size).toBe(all.length);
        expect(new Set(all)).toEqual(new Set(keys.map(trialKeyText)));
        const sizes = shards.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('does not depend on the order of the keys', () => {
    fc.assert(
      fc.property(
        uniqueKeys.chain((keys) =>
          fc.tuple(fc.constant(keys), fc.shuffledSubarray(keys, { minLength: keys.length })),
        ),
        fc.integer({ min: 1, max: 5 }),
        ([keys, shuffled], count) => {
          for (let index = 1; index <= count; index++) {
            const a = selectShard(keys, { index, count }).map(trialKeyText).sort();
            const b = selectShard(shuffled, { index, count }).map(trialKeyText).sort();
            expect(b).toEqual(a);
          }
        },
      ),
    );
  });

  it('mixes probes across shards and keeps the input order within one', () => {
    const keys: TrialKey[] = planTrials(suite, { baseline: true });
    const first = selectShard(keys, { index: 1, count: 2 });
    expect(first).toHaveLength(12);
    expect(new Set(first.map((k) => k.probe))).toEqual(new Set(['a/one', 'a/two']));
    const positions = first.map((k) => keys.indexOf(k));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(selectShard(keys, { index: 1, count: 1 })).toEqual(keys);
  });

  it('rejects a shard out of range', () => {
    expect(() => selectShard([], { index: 3, count: 2 })).toThrow(InvalidShardError);
    expect(() => selectShard([], { index: 0, count: 2 })).toThrow('invalid shard 0/2');
  });
});

describe('parseShard', () => {
  it('reads i/n', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    expect(formatShard(parseShard('3/7'))).toBe('3/7');
  });

  it.each(['', '2', '2/', '/4', 'a/b', '0/4', '5/4', '1/0', '-1/4', '1.5/4', '2/4/6'])(
    'rejects %j',
    (text) => {
      expect(() => parseShard(text)).toThrow(InvalidShardError);
      expect(() => parseShard(text)).toThrow(/^invalid shard /);
    },
  );

  it('round-trips every valid shard', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 500 })
          .chain((count) => fc.tuple(fc.integer({ min: 1, max: count }), fc.constant(count))),
        ([index, count]) => {
          expect(parseShard(`${index}/${count}`)).toEqual({ index, count });
        },
      ),
    );
  });
});
