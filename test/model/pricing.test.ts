import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  costOf,
  DEFAULT_PRICES,
  findPrice,
  mergePrices,
  priceTableSchema,
  priceUsage,
} from '../../src/model/pricing.js';
import type { Usage } from '../../src/model/usage.js';

const usage = (u: Partial<Usage>): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  ...u,
});
const MTOK = 1_000_000;

describe('findPrice', () => {
  it.each([
    ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['claude-opus-4-20250514', 'claude-opus-4'],
    ['claude-opus-4-5', 'claude-opus-4-5'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['claude-3-7-sonnet-20250219', 'claude-3-7-sonnet'],
    ['claude-sonnet-5-5', 'claude-sonnet-5-5'],
    ['claude-sonnet-4-5[1m]', 'claude-sonnet-4-5'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5'],
    ['claude-opus-4-1@20250805', 'claude-opus-4-1'],
    ['Claude-Haiku-4-5', 'claude-haiku-4-5'],
  ])('%s → %s', (model, key) => {
    expect(findPrice(model)?.key).toBe(key);
  });

  it.each([
    'gpt-4o',
    'claude-opus-4-9',
    'claude-sonnet-4-55',
    'claude',
    '',
    'constructor',
    'toString',
  ])('has no price for %j', (model) => {
    expect(findPrice(model)).toBeUndefined();
  });
});

describe('costOf', () => {
  it('prices each token kind at its own rate', () => {
    expect(costOf('claude-sonnet-4-5-20250929', usage({ input_tokens: MTOK }))).toBe(3);
    expect(costOf('claude-sonnet-4-5-20250929', usage({ output_tokens: MTOK }))).toBe(15);
    expect(costOf('claude-sonnet-4-5', usage({ cache_creation_input_tokens: MTOK }))).toBe(3.75);
    expect(costOf('claude-sonnet-4-5', usage({ cache_read_input_tokens: MTOK }))).toBeCloseTo(0.3);
    expect(
      costOf('claude-opus-4-5', usage({ input_tokens: 2 * MTOK, output_tokens: MTOK / 2 })),
    ).toBe(22.5);
    expect(costOf('claude-3-5-haiku-20241022', usage({ output_tokens: MTOK }))).toBe(4);
  });

  it('switches every rate to the long-prompt band above its threshold', () => {
    const short = usage({
      input_tokens: 60_000,
      cache_read_input_tokens: 40_000,
      output_tokens: 1000,
    });
    const long = { ...short, input_tokens: 60_001 };
    expect(costOf('claude-haiku-5-5', short)).toBeCloseTo(
      (60_000 * 0.1 + 40_000 * 0.01 + 1000 * 0.5) / MTOK,
      12,
    );
    expect(costOf('claude-haiku-5-5', long)).toBeCloseTo(
      (60_001 * 0.5 + 40_000 * 0.05 + 1000 * 2.5) / MTOK,
      12,
    );
  });

  it('counts an unknown model as $0 and flags it, never throwing', () => {
    expect(costOf('mystery-model', usage({ input_tokens: MTOK }))).toBe(0);
    expect(priceUsage('mystery-model', usage({ input_tokens: MTOK }))).toEqual({
      cost_usd: 0,
      priced: false,
    });
    expect(priceUsage('claude-haiku-4-5', usage({ input_tokens: MTOK }))).toEqual({
      cost_usd: 1,
      priced: true,
      key: 'claude-haiku-4-5',
    });
  });

  it('takes config overrides: replacing a model, or adding one', () => {
    const prices = {
      'claude-sonnet-4-5': { input: 1, cache_write: 1, cache_read: 1, output: 1 },
      'my-local-model': { input: 0.5, cache_write: 0, cache_read: 0, output: 2 },
    };
    expect(costOf('claude-sonnet-4-5-20250929', usage({ output_tokens: MTOK }), prices)).toBe(1);
    expect(
      costOf('my-local-model', usage({ input_tokens: MTOK, output_tokens: MTOK }), prices),
    ).toBe(2.5);
    // The override does not leak into the defaults.
    expect(costOf('claude-sonnet-4-5', usage({ output_tokens: MTOK }))).toBe(15);
    expect(mergePrices(prices)['claude-opus-4-5']).toEqual(DEFAULT_PRICES['claude-opus-4-5']);
  });

  it('validates a price table from the config, naming unknown keys', () => {
    const ok = priceTableSchema.safeParse({
      'claude-x': { input: 1, cache_write: 1.25, cache_read: 0.1, output: 5 },
    });
    expect(ok.success).toBe(true);
    const bad = priceTableSchema.safeParse({
      'claude-x': { input: 1, cache_write: 1.25, cache_read: 0.1, output: 5, batch: 2 },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['claude-x']);
    expect(
      priceTableSchema.safeParse({ m: { input: -1, cache_write: 0, cache_read: 0, output: 0 } })
        .success,
    ).toBe(false);
  });

  it('every default entry satisfies the schema, with a long-prompt band never cheaper', () => {
    expect(priceTableSchema.safeParse(DEFAULT_PRICES).success).toBe(true);
    for (const price of Object.values(DEFAULT_PRICES)) {
      if (!price.long_prompt) continue;
      expect(price.long_prompt.input).toBeGreaterThanOrEqual(price.input);
      expect(price.long_prompt.output).toBeGreaterThanOrEqual(price.output);
      expect(price.long_prompt.cache_write).toBeGreaterThanOrEqual(price.cache_write);
      expect(price.long_prompt.cache_read).toBeGreaterThanOrEqual(price.cache_read);
    }
  });

  it('is monotonic in each usage field', () => {
    const fields = [
      'input_tokens',
      'output_tokens',
      'cache_creation_input_tokens',
      'cache_read_input_tokens',
    ] as const;
    const tokens = fc.nat({ max: 2_000_000 });
    fc.assert(
      fc.property(
        fc.constantFrom(
          ...Object.keys(DEFAULT_PRICES),
          'claude-sonnet-4-5-20250929',
          'unknown-model',
        ),
        fc.record({
          input_tokens: tokens,
          output_tokens: tokens,
          cache_creation_input_tokens: tokens,
          cache_read_input_tokens: tokens,
        }),
        fc.constantFrom(...fields),
        tokens,
        (model, base, field, extra) => {
          const more = { ...base, [field]: base[field] + extra };
          const before = costOf(model, base);
          const after = costOf(model, more);
          expect(before).toBeGreaterThanOrEqual(0);
          expect(after).toBeGreaterThanOrEqual(before);
        },
      ),
      { numRuns: 500 },
    );
  });
});
