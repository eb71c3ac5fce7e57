import {
  FIVE_MINUTES_MS,
  MAX_CACHE_BREAKPOINTS,
  type MinCacheableOverrides,
  minCacheableTokens,
  ONE_HOUR_MS,
  type PrefixBlock,
  prefixBlocks,
  tokensAtMost,
} from '../cache-rules.js';
import type { MessagesRequest } from './request.js';

/**
 * Token estimates and a prompt-caching simulation for the scripted server, on the API's rules
 * (see ../cache-rules.ts for the minimums, prices and the two token estimates):
 *
 * - The request is read as one sequence of blocks in the API's order (tools → system →
 *   messages). Each block marked with `cache_control` is a breakpoint; more than 4 is a 400,
 *   and so is a 1-hour mark after a 5-minute one. The prefix ending at a block is identified by
 *   a hash chain over the blocks, seeded with the model (caches are per model).
 * - A breakpoint whose prefix is below the model's minimum (counted low, `tokensAtLeast`) is
 *   silently not cached: no write, no read, billed as input.
 * - Lookback: each breakpoint reads the longest cached prefix ending at it or at one of the
 *   blocks before it, at most `LOOKBACK_BLOCKS` positions counting the breakpoint itself.
 * - TTL: 5 minutes, or 1 hour for `ttl: "1h"`; a read refreshes the entry's TTL.
 * - In-flight misses: a request's writes become readable only when its response is sent
 *   (`commit`); requests that arrived before then miss and write the prefix again, as on the API,
 *   where an entry is available only once the first response has begun.
 * - Billing counts (`input_tokens`, cache writes and reads) use the high estimate
 *   (`tokensAtMost`), so costs err high; a request with tools also carries the API's tool-use
 *   system prompt in its first block.
 */

export const DEFAULT_CACHE_TTL_MS = FIVE_MINUTES_MS;
/** Positions a breakpoint looks back over for a cached prefix, itself included. */
export const LOOKBACK_BLOCKS = 20;

export interface InputUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** A request the API would refuse for its cache marks; the server answers 400 with `message`. */
export class CacheRuleError extends Error {}

/** Billed tokens of a text (output included): the high estimate of ../cache-rules.ts. */
export const estimateTokens = tokensAtMost;

/** Estimated input tokens of a whole request (what count_tokens answers), counted high. */
export function countInputTokens(req: MessagesRequest): number {
  return prefixBlocks(req).reduce((sum, b) => sum + b.tokens, 0);
}

/** Refuses what the API refuses: more than 4 breakpoints, a 1-hour mark after a 5-minute one. */
export function checkCacheMarks(blocks: readonly PrefixBlock[]): void {
  const marks = blocks.filter((b) => b.ttlMs !== null);
  if (marks.length > MAX_CACHE_BREAKPOINTS) {
    throw new CacheRuleError(
      `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${marks.length}.`,
    );
  }
  const firstShort = marks.findIndex((b) => b.ttlMs === DEFAULT_CACHE_TTL_MS);
  if (firstShort >= 0 && marks.slice(firstShort).some((b) => b.ttlMs === ONE_HOUR_MS)) {
    throw new CacheRuleError(
      'a cache_control block with ttl "1h" cannot come after one with ttl "5m": put longer TTLs first',
    );
  }
}

interface Breakpoint {
  /** Position of the marked block. */
  index: number;
  /** Billed tokens from the start of the request up to and including this block. */
  tokens: number;
  ttlMs: number;
}

interface Entry {
  expiry: number;
  ttlMs: number;
}

/** One request's cache accounting: its usage, and its writes to publish once it has answered. */
export interface CacheAccount {
  usage: InputUsage;
  /** Makes this request's writes readable by requests that arrive from now on. */
  commit(): void;
}

export interface PromptCacheOptions {
  now: () => number;
  /** Per-model minimum cacheable prefix, laid over the defaults. */
  minCacheableTokens?: MinCacheableOverrides;
}

export class PromptCache {
  /** Hash of a cached prefix → when it expires. */
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #minimums: MinCacheableOverrides;

  constructor(options: PromptCacheOptions) {
    this.#now = options.now;
    this.#minimums = options.minCacheableTokens ?? {};
    // Fail at start-up, not on the first request, when an override is malformed.
    minCacheableTokens('', this.#minimums);
  }

  /**
   * Splits a request's input tokens into uncached, cache write and cache read, on arrival. The
   * read is the longest committed, unexpired prefix in any breakpoint's lookback window, and
   * refreshes that entry's TTL; every breakpoint at or above the minimum is written, readable
   * once `commit` is called. Throws `CacheRuleError` for marks the API refuses.
   */
  account(req: MessagesRequest): CacheAccount {
    const blocks = prefixBlocks(req);
    checkCacheMarks(blocks);
    const minimum = minCacheableTokens(req.model, this.#minimums);
    const hashes = blocks.map((b) => b.key);
    const cumulative: number[] = [];
    const cacheable: Breakpoint[] = [];
    let tokens = 0;
    let low = 0;
    for (const [index, block] of blocks.entries()) {
      tokens += block.tokens;
      low += block.lowTokens;
      cumulative.push(tokens);
      if (block.ttlMs !== null && low >= minimum)
        cacheable.push({ index, tokens, ttlMs: block.ttlMs });
    }
    const creation = { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 };
    const last = cacheable.at(-1);
    if (last === undefined) {
      const usage = {
        input_tokens: tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: creation,
      };
      return { usage, commit: () => {} };
    }

    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiry <= now) this.#entries.delete(key);
    let hit = -1;
    for (const b of cacheable) {
      const stop = Math.max(0, b.index - LOOKBACK_BLOCKS + 1);
      for (let i = b.index; i >= stop && i > hit; i--) {
        if (this.#entries.has(hashes[i] ?? '')) {
          hit = i;
          break;
        }
      }
    }
    const read = hit < 0 ? 0 : (cumulative[hit] ?? 0);
    const hitEntry = this.#entries.get(hashes[hit] ?? '');
    if (hitEntry !== undefined) hitEntry.expiry = now + hitEntry.ttlMs;

    let covered = read;
    for (const b of cacheable) {
      if (b.tokens <= covered) continue;
      if (b.ttlMs === ONE_HOUR_MS) creation.ephemeral_1h_input_tokens += b.tokens - covered;
      else creation.ephemeral_5m_input_tokens += b.tokens - covered;
      covered = b.tokens;
    }
    const usage = {
      input_tokens: tokens - last.tokens,
      cache_creation_input_tokens: last.tokens - read,
      cache_read_input_tokens: read,
      cache_creation: creation,
    };
    const commit = () => {
      const at = this.#now();
      for (const b of cacheable) {
        const key = hashes[b.index] ?? '';
        const known = this.#entries.get(key);
        const ttlMs = Math.max(known?.ttlMs ?? 0, b.ttlMs);
        this.#entries.set(key, { expiry: Math.max(known?.expiry ?? 0, at + b.ttlMs), ttlMs });
      }
    };
    return { usage, commit };
  }
}
