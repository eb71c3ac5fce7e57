import { z } from 'zod';
import type { Usage } from './usage.js';

/**
 * List prices in USD per million tokens. `cache_write` is the 5-minute cache write rate (the only
 * TTL `withCacheMarks` uses); `cache_read` is the cache hit / refresh rate.
 */
const ratesSchema = z.strictObject({
  input: z.number().nonnegative(),
  cache_write: z.number().nonnegative(),
  cache_read: z.number().nonnegative(),
  output: z.number().nonnegative(),
});

export const modelPriceSchema = ratesSchema.extend({
  /**
   * A higher band that applies to every token of a request whose prompt (input + cache writes +
   * cache reads) exceeds `threshold_tokens`.
   */
  long_prompt: ratesSchema.extend({ threshold_tokens: z.number().int().positive() }).optional(),
});

/** Keys are model ids or family prefixes (`claude-sonnet-4-5` matches `claude-sonnet-4-5-20250929`). */
export const priceTableSchema = z.record(z.string().min(1), modelPriceSchema);

export type ModelPrice = z.infer<typeof modelPriceSchema>;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const rates = (input: number, cache_write: number, cache_read: number, output: number) => ({
  input,
  cache_write,
  cache_read,
  output,
});

/**
 * Anthropic list prices, standard (non-batch) API.
 * Source: https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing" table) and the
 * per-model overview pages under https://platform.claude.com/docs/en/models/ (Opus 5.5, Sonnet 5,
 * Sonnet 5.5). Haiku 5.5's two prompt-length bands are listed as "from $0.10 / $0.50" on the
 * official comparison table; the band rates here are as reported against that page. Batch,
 * 1-hour cache writes, data-residency multipliers and fast mode are not modelled: a run that uses
 * them should override its prices in the config (`prices:`).
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-fable-5-1': rates(10, 12.5, 0.25, 50),
  'claude-mythos-5-1': rates(10, 12.5, 0.25, 50),
  'claude-fable-5': rates(10, 12.5, 1, 50),
  'claude-mythos-5': rates(10, 12.5, 1, 50),
  'claude-opus-5-5': rates(4, 5, 0.2, 20),
  'claude-opus-5': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-8': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-7': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-6': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-5': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-1': rates(15, 18.75, 1.5, 75),
  'claude-opus-4': rates(15, 18.75, 1.5, 75),
  'claude-sonnet-5-5': rates(2, 2.5, 0.2, 10),
  'claude-sonnet-5': rates(2, 2.5, 0.2, 10),
  'claude-sonnet-4-6': rates(3, 3.75, 0.3, 15),
  'claude-sonnet-4-5': rates(3, 3.75, 0.3, 15),
  'claude-sonnet-4': rates(3, 3.75, 0.3, 15),
  'claude-3-7-sonnet': rates(3, 3.75, 0.3, 15),
  'claude-haiku-5-5': {
    ...rates(0.1, 0.125, 0.01, 0.5),
    long_prompt: { threshold_tokens: 100_000, ...rates(0.5, 0.625, 0.05, 2.5) },
  },
  'claude-haiku-4-5': rates(1, 1.25, 0.1, 5),
  'claude-3-5-haiku': rates(0.8, 1, 0.08, 4),
  'claude-3-haiku': rates(0.25, 0.3, 0.03, 1.25),
};

/** What may follow a family key in a full model id: a snapshot date, a context tag, a version. */
const ID_SUFFIX = /^(-\d{8})?(-v\d+(:\d+)?)?(@\d{8})?(\[[a-z0-9]+\])?$/;
/** Cloud-provider prefixes such as `anthropic.` or `us.anthropic.` (Bedrock). */
const PROVIDER_PREFIX = /^([a-z]{2,4}\.)?anthropic\./;

export interface PriceMatch {
  /** The table key that matched. */
  key: string;
  price: ModelPrice;
}

/** Price overrides from the config, laid over `DEFAULT_PRICES` entry by entry. */
export type PriceOverrides = Partial<Record<string, ModelPrice>>;

/**
 * Exact id first, then the longest family key the id extends with a date/version suffix
 * (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`, never `claude-sonnet-4`).
 */
export function findPrice(model: string, prices?: PriceOverrides): PriceMatch | undefined {
  const table = mergePrices(prices);
  const id = model.trim().toLowerCase().replace(PROVIDER_PREFIX, '');
  for (const key of [model, id]) {
    const price = Object.hasOwn(table, key) ? table[key] : undefined;
    if (price) return { key, price };
  }
  let best: PriceMatch | undefined;
  for (const [key, price] of Object.entries(table)) {
    const k = key.toLowerCase();
    if (!id.startsWith(k) || !ID_SUFFIX.test(id.slice(k.length))) continue;
    if (!best || k.length > best.key.length) best = { key, price };
  }
  return best;
}

/** The default table with `overrides` laid over it (an override replaces a whole entry). */
export function mergePrices(overrides?: PriceOverrides): PriceTable {
  if (!overrides) return DEFAULT_PRICES;
  const merged: Record<string, ModelPrice> = { ...DEFAULT_PRICES };
  for (const [key, price] of Object.entries(overrides)) {
    if (price) merged[key] = price;
  }
  return merged;
}

export interface PricedUsage {
  cost_usd: number;
  /** False when the model has no price: the cost is then 0 and must be flagged, not trusted. */
  priced: boolean;
  /** The table key used, when priced. */
  key?: string;
}

const PER_MILLION = 1_000_000;

export function priceUsage(model: string, usage: Usage, prices?: PriceOverrides): PricedUsage {
  const match = findPrice(model, prices);
  if (!match) return { cost_usd: 0, priced: false };
  const { price } = match;
  const prompt =
    usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  const band =
    price.long_prompt && prompt > price.long_prompt.threshold_tokens ? price.long_prompt : price;
  const cost =
    (usage.input_tokens * band.input +
      usage.cache_creation_input_tokens * band.cache_write +
      usage.cache_read_input_tokens * band.cache_read +
      usage.output_tokens * band.output) /
    PER_MILLION;
  return { cost_usd: cost, priced: true, key: match.key };
}

/** USD cost of one call's usage; 0 for a model without a price (see `priceUsage` for the flag). */
export function costOf(model: string, usage: Usage, prices?: PriceOverrides): number {
  return priceUsage(model, usage, prices).cost_usd;
}
