import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/bench/suite.js';
import { DEFAULT_PRICES } from '../../src/model/pricing.js';
import { PRICE_WEIGHTS, pricedTokens, type Usage } from '../../src/model/usage.js';

describe('pricedTokens', () => {
  it('counts each kind of token at its price in input tokens', () => {
    expect(
      pricedTokens({
        input_tokens: 100,
        output_tokens: 20,
        cache_creation_input_tokens: 4,
        cache_read_input_tokens: 40,
      }),
    ).toBe(100 + 100 + 5 + 4);
  });

  it('uses the list price ratios of the current Sonnet, Haiku and Opus 4 models', () => {
    for (const model of ['claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-opus-4-6']) {
      const price = DEFAULT_PRICES[model];
      if (price === undefined) throw new Error(`no price for ${model}`);
      expect(PRICE_WEIGHTS.output_tokens, model).toBeCloseTo(price.output / price.input, 10);
      expect(PRICE_WEIGHTS.cache_read_input_tokens, model).toBeCloseTo(
        price.cache_read / price.input,
        10,
      );
      expect(PRICE_WEIGHTS.cache_creation_input_tokens, model).toBeCloseTo(
        price.cache_write / price.input,
        10,
      );
    }
  });

  it('lets a Claude Code trial of the default turns finish under the default budget', () => {
    // One Claude Code call: ~22k tokens of its own prompt read from the cache, a little new
    // input and a short answer.
    const call: Usage = {
      input_tokens: 1_500,
      output_tokens: 400,
      cache_creation_input_tokens: 1_000,
      cache_read_input_tokens: 22_000,
    };
    const calls = DEFAULT_LIMITS.max_turns;
    expect(calls * pricedTokens(call)).toBeLessThan(DEFAULT_LIMITS.max_total_tokens);
    // Counted flat, the same trial would be stopped after a few calls.
    const flat = call.input_tokens + call.output_tokens + 1_000 + 22_000;
    expect(Math.floor(DEFAULT_LIMITS.max_total_tokens / flat)).toBeLessThan(10);
  });
});
