import { createHash } from 'node:crypto';

/**
 * The prompt-caching rules of the Messages API that both the product (where to put breakpoints,
 * when to warm the cache) and the scripted server (what a request is billed) rely on.
 *
 * - A marked prefix shorter than the model's minimum cacheable length is silently not cached:
 *   no write, no read, billed as plain input. Minimums (Anthropic's prompt-caching docs):
 *   4,096 tokens for Haiku 4.5, Opus 4.5, 4.6 and 4.7; 2,048 for Haiku 3 and 3.5; 1,024 for the
 *   Sonnet 4.x family, Sonnet 5, Opus 4, 4.1 and 4.8, Sonnet 3.7; 512 for Opus 5 and the 5.x
 *   frontier models. One report measured 2,048 for Sonnet 4.6 in practice, hence overrides.
 *   A model id not in the table gets the largest minimum, so nothing unknown is assumed cached.
 * - Writes bill 1.25x input with the default 5-minute TTL, 2x with `ttl: "1h"`; reads 0.1x.
 *
 * Token counts. No Claude tokenizer is available offline, so lengths are bounded from UTF-8 bytes:
 * - `tokensAtLeast` (used to decide whether a prefix reaches the minimum): one token per 5 bytes.
 *   Published rules of thumb put Claude at about 3.5 characters a token on average, ~4 on English
 *   prose and 2.5–3.5 on code and JSON; no text type is reported above ~4.5. The estimate is
 *   therefore 10–30% under the real count on prose and 30–50% under on code or JSON: the model
 *   never claims a prefix is cacheable when the real count might fall short.
 * - `tokensAtMost` (used for billing and context budgets): one token per 3 bytes. It over-counts
 *   prose by 15–50% and code by 0–15%, and may under-count punctuation-dense JSON by up to ~20%.
 *   CJK text (3 bytes a character, about a token each) is counted about right; emoji high.
 * - A request with tools also carries the API's tool-use system prompt: 346 tokens with
 *   `tool_choice` auto/none, 313 with any/tool on Claude 4 models (Anthropic's tool-use pricing
 *   table). It is part of the tools prefix and counted exactly in both estimates.
 */

export const FIVE_MINUTES_MS = 5 * 60 * 1000;
export const ONE_HOUR_MS = 60 * 60 * 1000;

/** The Messages API accepts at most this many `cache_control` breakpoints per request. */
export const MAX_CACHE_BREAKPOINTS = 4;

/** Input-price multipliers of cache traffic. */
export const CACHE_PRICE = { write5m: 1.25, write1h: 2, read: 0.1 } as const;

/** Minimum cacheable prefix in tokens, by model id or family prefix (longest match wins). */
export const DEFAULT_MIN_CACHEABLE_TOKENS: Readonly<Record<string, number>> = {
  'claude-fable-5': 512,
  'claude-mythos-5': 512,
  'claude-opus-5': 512,
  'claude-sonnet-5': 1024,
  'claude-opus-4-8': 1024,
  'claude-opus-4-7': 4096,
  'claude-opus-4-6': 4096,
  'claude-opus-4-5': 4096,
  'claude-opus-4-1': 1024,
  'claude-opus-4': 1024,
  'claude-sonnet-4': 1024,
  'claude-3-7-sonnet': 1024,
  'claude-haiku-4-5': 4096,
  'claude-3-5-haiku': 2048,
  'claude-3-haiku': 2048,
};

/** The minimum of a model not in the table: the largest any model has. */
export const UNKNOWN_MODEL_MIN_CACHEABLE_TOKENS = 4096;

const PROVIDER_PREFIX = /^([a-z]{2,4}\.)?anthropic\./;

/** Per-model minimums laid over the defaults (e.g. `{ 'claude-sonnet-4-6': 2048 }`). */
export type MinCacheableOverrides = Readonly<Record<string, number>>;

/** The minimum cacheable prefix of `model`: exact id, else the longest family key it starts with. */
export function minCacheableTokens(model: string, overrides: MinCacheableOverrides = {}): number {
  const table: Record<string, number> = { ...DEFAULT_MIN_CACHEABLE_TOKENS, ...overrides };
  for (const [key, value] of Object.entries(table)) {
    if (!(Number.isInteger(value) && value >= 0)) {
      throw new TypeError(
        `minimum cacheable tokens for ${key} must be a non-negative integer, got ${value}`,
      );
    }
  }
  const id = model.trim().toLowerCase().replace(PROVIDER_PREFIX, '');
  if (Object.hasOwn(table, model)) return table[model] as number;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (id.startsWith(key.toLowerCase()) && (best === undefined || key.length > best.length))
      best = key;
  }
  return best === undefined ? UNKNOWN_MODEL_MIN_CACHEABLE_TOKENS : (table[best] as number);
}

/** Bytes per token of the low estimate (see the module doc). */
export const LOW_BYTES_PER_TOKEN = 5;
/** Bytes per token of the high estimate (see the module doc). */
export const HIGH_BYTES_PER_TOKEN = 3;

/** A count no larger than the real token count of `text` (decides cacheability). */
export function tokensAtLeast(text: string): number {
  return Math.floor(Buffer.byteLength(text, 'utf8') / LOW_BYTES_PER_TOKEN);
}

/** A count no smaller than the real token count of ordinary `text` (billing, budgets). */
export function tokensAtMost(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / HIGH_BYTES_PER_TOKEN);
}

/** The tool-use system prompt the API adds to a request that has tools. */
export function toolUsePromptTokens(toolChoice: unknown): number {
  const type = (toolChoice as { type?: unknown } | undefined)?.type;
  return type === 'any' || type === 'tool' ? 313 : 346;
}

/** A request as the prompt cache reads it: the SDK's params and the scripted server's view fit. */
export interface CacheRequest {
  model: string;
  tools?: readonly object[] | null;
  tool_choice?: unknown;
  system?: string | readonly object[] | null;
  messages: readonly { role: string; content: string | readonly object[] }[];
}

/** One block of a request in prefix order (tools → system → messages). */
export interface PrefixBlock {
  /** Canonical JSON of the block without its cache mark (a message's block carries its role). */
  json: string;
  /** Names the prefix ending at this block: a hash chain over the blocks, seeded with the model. */
  key: string;
  /** Billed tokens (`tokensAtMost`); the first tool also carries the tool-use system prompt. */
  tokens: number;
  /** Tokens counted low (`tokensAtLeast`), for the minimum cacheable length. */
  lowTokens: number;
  /** TTL of the cache mark on this block; null when unmarked. */
  ttlMs: number | null;
}

function markTtl(block: object): number | null {
  const mark = (block as { cache_control?: unknown }).cache_control;
  if (mark === undefined || mark === null || typeof mark !== 'object') return null;
  return (mark as { ttl?: unknown }).ttl === '1h' ? ONE_HOUR_MS : FIVE_MINUTES_MS;
}

/** The text a block carries to the model: a text block's text, otherwise its JSON. */
function carriedText(rest: Record<string, unknown>, json: string): string {
  if (rest.type === 'text' && typeof rest.text === 'string') return rest.text;
  if (rest.type === 'tool_result' && typeof rest.content === 'string') return rest.content;
  return json;
}

const asBlocks = (content: string | readonly object[] | null | undefined): readonly object[] =>
  typeof content === 'string' ? [{ type: 'text', text: content }] : (content ?? []);

/** The request as blocks in the API's prefix order: tools, then system, then each message. */
export function prefixBlocks(req: CacheRequest): PrefixBlock[] {
  const toolPrompt = toolUsePromptTokens(req.tool_choice);
  const sequence = [
    ...(req.tools ?? []).map((tool, i) => ({
      block: tool,
      extra: {},
      fixed: i === 0 ? toolPrompt : 0,
    })),
    ...asBlocks(req.system).map((block) => ({ block, extra: {}, fixed: 0 })),
    ...req.messages.flatMap((m) =>
      asBlocks(m.content).map((block) => ({ block, extra: { role: m.role }, fixed: 0 })),
    ),
  ];
  let key = createHash('sha256').update(req.model).digest('hex');
  return sequence.map(({ block, extra, fixed }) => {
    const { cache_control: _mark, ...rest } = block as Record<string, unknown>;
    const json = JSON.stringify({ ...extra, ...rest });
    key = createHash('sha256').update(key).update('\n').update(json).digest('hex');
    return {
      json,
      key,
      tokens: fixed + tokensAtMost(json),
      lowTokens: fixed + tokensAtLeast(carriedText(rest, json)),
      ttlMs: markTtl(block),
    };
  });
}

export interface WarmUpInput {
  /** Calls about to start together that share the prefix (the warm-up call included). */
  parallel: number;
  /** The shared prefix, as `tokensAtLeast` counts it. */
  sharedTokens: number;
  /** The model's minimum cacheable prefix. */
  minTokens: number;
  /** TTL of the breakpoint closing the shared prefix (default 5 minutes). */
  ttl?: '5m' | '1h';
}

export interface WarmUpDecision {
  warm: boolean;
  /** Input-token equivalents the shared prefix costs without and with a warm-up call. */
  coldCost: number;
  warmCost: number;
  why: string;
}

/**
 * Whether to let one call finish writing a shared prefix before its siblings start. Started
 * together, every sibling misses (a prefix being written cannot be read by requests already in
 * flight) and writes it again: `parallel × write`. Warmed, one call writes and the rest read:
 * `write + (parallel − 1) × read`. A prefix below the model's minimum is never cached, so waiting
 * buys nothing. The price is one call's latency before the fan-out.
 */
export function warmUpDecision(input: WarmUpInput): WarmUpDecision {
  const { parallel, sharedTokens, minTokens } = input;
  if (!(Number.isInteger(parallel) && parallel >= 1))
    throw new TypeError(`parallel must be a positive integer, got ${parallel}`);
  const write = input.ttl === '1h' ? CACHE_PRICE.write1h : CACHE_PRICE.write5m;
  if (sharedTokens < minTokens) {
    const cost = parallel * sharedTokens;
    return {
      warm: false,
      coldCost: cost,
      warmCost: cost,
      why: `shared prefix ~${sharedTokens} tokens is below the minimum of ${minTokens}: never cached`,
    };
  }
  const coldCost = parallel * write * sharedTokens;
  const warmCost = (write + (parallel - 1) * CACHE_PRICE.read) * sharedTokens;
  const warm = warmCost < coldCost;
  return {
    warm,
    coldCost,
    warmCost,
    why: warm
      ? `${parallel} calls share ~${sharedTokens} tokens: one write and ${parallel - 1} reads`
      : 'a single call has nobody to share the prefix with',
  };
}
