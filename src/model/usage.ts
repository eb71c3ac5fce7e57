/** Token usage as the Messages API reports it, cache fields included. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const zeroUsage = (): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

/** Usage as APIs report it: cache fields may be absent or null. */
export type ReportedUsage = { [K in keyof Usage]?: number | null };

export function addUsage(a: Usage, b: ReportedUsage | null | undefined): Usage {
  return {
    input_tokens: a.input_tokens + (b?.input_tokens ?? 0),
    output_tokens: a.output_tokens + (b?.output_tokens ?? 0),
    cache_creation_input_tokens:
      a.cache_creation_input_tokens + (b?.cache_creation_input_tokens ?? 0),
    cache_read_input_tokens: a.cache_read_input_tokens + (b?.cache_read_input_tokens ?? 0),
  };
}

/**
 * What one token of each kind weighs against an input token, at Anthropic's standard price ratios
 * (model/pricing.ts): cache writes (5-minute) cost 1.25×, cache reads 0.1× and output 5× the
 * input price. One set of weights for every model keeps a probe's budget the same on each.
 */
export const PRICE_WEIGHTS: Readonly<Usage> = {
  input_tokens: 1,
  output_tokens: 5,
  cache_creation_input_tokens: 1.25,
  cache_read_input_tokens: 0.1,
};

/**
 * Usage in input-token equivalents, each kind counted at its price: the unit of a trial's token
 * budget (`max_total_tokens`). An agent that re-reads a large cached prompt on every call (Claude
 * Code sends ~22k tokens of its own per call) pays for it as the API does, a tenth of fresh input.
 */
export function pricedTokens(usage: Usage): number {
  return (
    usage.input_tokens * PRICE_WEIGHTS.input_tokens +
    usage.output_tokens * PRICE_WEIGHTS.output_tokens +
    usage.cache_creation_input_tokens * PRICE_WEIGHTS.cache_creation_input_tokens +
    usage.cache_read_input_tokens * PRICE_WEIGHTS.cache_read_input_tokens
  );
}

/** The token counts of a usage report, as the Messages API names them. */
export const USAGE_FIELDS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
] as const satisfies readonly (keyof Usage)[];
